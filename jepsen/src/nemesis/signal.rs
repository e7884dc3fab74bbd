//! Process faults: `kill -9`, SIGSTOP and SIGCONT, sent to a member's pid (the harness is the
//! parent of every member, so it also reaps them).

use anyhow::{bail, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Kill,
    Stop,
    Cont,
    Term,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Kill => libc::SIGKILL,
            Signal::Stop => libc::SIGSTOP,
            Signal::Cont => libc::SIGCONT,
            Signal::Term => libc::SIGTERM,
        }
    }
}

/// Sends `sig` to `pid`.
pub fn send(pid: u32, sig: Signal) -> Result<()> {
    if pid == 0 || pid > i32::MAX as u32 {
        bail!("refusing to signal pid {pid}");
    }
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is a child we spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig.number()) };
    if rc != 0 {
        bail!("kill({pid}, {sig:?}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// The process state letter from `/proc/<pid>/stat` (`R`, `S`, `T` stopped, `Z`…).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_for(pid: u32, want: impl Fn(Option<char>) -> bool) -> Option<char> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = proc_state(pid);
            if want(s) || Instant::now() > deadline {
                return s;
            }
            std::thread::yield_now();
        }
    }

    #[tokio::test]
    async fn stop_cont_and_kill_a_child() {
        let mut child = tokio::process::Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        send(pid, Signal::Stop).unwrap();
        assert_eq!(wait_for(pid, |s| s == Some('T')), Some('T'));
        send(pid, Signal::Cont).unwrap();
        assert_ne!(wait_for(pid, |s| s != Some('T')), Some('T'));
        send(pid, Signal::Kill).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .unwrap()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));
        assert!(send(0, Signal::Kill).is_err());
    }
}
