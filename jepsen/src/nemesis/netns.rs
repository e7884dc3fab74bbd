//! The namespace network (soak mode, needs root or an unprivileged user namespace): one network
//! namespace per member with `eth0` on `10.77.0.<i+1>/24`, a veth to a bridge that lives in its
//! own "switch" namespace, and one more namespace for the harness (`10.77.0.254`: its clients and
//! the fake BMC). Partitions are nft rules on the bridge's forward hook in the switch namespace,
//! replaced as one `nft -f` transaction. The host's own interfaces and routes are never touched.
//! (`tc netem` is absent from this kernel: delay stays a proxy-mode fault.)

use super::Grudge;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const TABLE: &str = "ferric_jepsen";
const CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// The switch-side interface of member `i`.
pub fn switch_port(i: usize) -> String {
    format!("sw-n{}", i + 1)
}

/// The nft transaction that makes `grudge` (and per-link loss, percent) the whole rule set.
pub fn ruleset(grudge: &Grudge, loss: &[(usize, usize, u8)]) -> String {
    let mut s =
        format!("add table bridge {TABLE}\ndelete table bridge {TABLE}\ntable bridge {TABLE} {{\n");
    if !grudge.cut.is_empty() {
        let elems: Vec<String> = grudge
            .cut
            .iter()
            .map(|(a, b)| format!("\"{}\" . \"{}\"", switch_port(*a), switch_port(*b)))
            .collect();
        s.push_str(&format!(
            "\tset cut {{\n\t\ttype ifname . ifname\n\t\telements = {{ {} }}\n\t}}\n",
            elems.join(", ")
        ));
    }
    s.push_str("\tchain links {\n\t\ttype filter hook forward priority 0; policy accept;\n");
    if !grudge.cut.is_empty() {
        s.push_str("\t\tiifname . oifname @cut drop\n");
    }
    for (a, b, pct) in loss {
        s.push_str(&format!(
            "\t\tiifname \"{}\" oifname \"{}\" numgen random mod 100 < {} drop\n",
            switch_port(*a),
            switch_port(*b),
            pct.min(&100)
        ));
    }
    s.push_str("\t}\n}\n");
    s
}

/// Runs a command with a deadline; stdin is fed from `input`.
pub fn run(cmd: &mut Command, input: Option<&str>) -> Result<String> {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawn {desc}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes())?;
    }
    let deadline = Instant::now() + CMD_TIMEOUT;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{desc}: timed out");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{desc}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip(args: &[&str]) -> Result<String> {
    run(Command::new("ip").args(args), None)
}

/// The namespaces of one run. Removed on drop.
#[derive(Debug)]
pub struct NetnsNet {
    pub prefix: String,
    pub members: usize,
    created: Vec<String>,
}

impl NetnsNet {
    pub fn switch_ns(&self) -> String {
        format!("{}sw", self.prefix)
    }
    pub fn member_ns(&self, i: usize) -> String {
        format!("{}n{}", self.prefix, i + 1)
    }
    pub fn harness_ns(&self) -> String {
        format!("{}h", self.prefix)
    }
    pub fn member_ip(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, (i + 1) as u8)
    }
    pub fn harness_ip() -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, 254)
    }
    pub fn ns_path(name: &str) -> PathBuf {
        Path::new("/run/netns").join(name)
    }

    /// Whether this process can make namespaces (root, with `ip` and `nft`).
    pub fn supported() -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        root && Command::new("ip").arg("-V").output().is_ok()
            && Command::new("nft").arg("--version").output().is_ok()
    }

    /// Creates switch, harness and member namespaces, links and addresses.
    pub fn create(prefix: &str, members: usize) -> Result<NetnsNet> {
        assert!(members > 0 && members < 200);
        let mut net = NetnsNet {
            prefix: prefix.to_string(),
            members,
            created: Vec::new(),
        };
        let sw = net.switch_ns();
        ip(&["netns", "add", &sw])?;
        net.created.push(sw.clone());
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        ip(&["-n", &sw, "link", "set", "lo", "up"])?;
        let mut attach = |ns: &str, port: &str, addr: Ipv4Addr| -> Result<()> {
            ip(&["netns", "add", ns])?;
            net.created.push(ns.to_string());
            ip(&[
                "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns",
                &sw,
            ])?;
            ip(&["-n", &sw, "link", "set", port, "master", "br0"])?;
            ip(&["-n", &sw, "link", "set", port, "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            Ok(())
        };
        for i in 0..members {
            attach(
                &format!("{prefix}n{}", i + 1),
                &switch_port(i),
                NetnsNet::member_ip(i),
            )?;
        }
        attach(&format!("{prefix}h"), "sw-h", NetnsNet::harness_ip())?;
        net.apply(&Grudge::none(), &[])?;
        Ok(net)
    }

    /// Makes `grudge` (and `loss`) the whole rule set, atomically.
    pub fn apply(&self, grudge: &Grudge, loss: &[(usize, usize, u8)]) -> Result<()> {
        run(
            Command::new("ip").args(["netns", "exec", &self.switch_ns(), "nft", "-f", "-"]),
            Some(&ruleset(grudge, loss)),
        )?;
        Ok(())
    }

    pub fn heal(&self) -> Result<()> {
        self.apply(&Grudge::none(), &[])
    }

    /// Removes every namespace this run made (links and rules go with them).
    pub fn destroy(&mut self) -> Result<()> {
        let mut first_err = None;
        for ns in self.created.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &ns]) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for NetnsNet {
    fn drop(&mut self) {
        if let Err(e) = self.destroy() {
            eprintln!("netns cleanup: {e:#}");
        }
    }
}

/// Runs `f` on a fresh thread that has entered the network namespace at `ns` (the thread ends
/// with `f`, so nothing else ever runs in the wrong namespace).
fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let file = std::fs::File::open(ns)?;
    std::thread::spawn(move || {
        // SAFETY: setns on an fd we own; it only changes this thread's namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| std::io::Error::other("netns thread panicked"))?
}

fn raw_socket() -> std::io::Result<std::os::fd::OwnedFd> {
    // SAFETY: plain socket(2); the fd is wrapped at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, owned descriptor.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// An unconnected TCP socket created inside the namespace (connect it with tokio's
/// `TcpSocket::from_std_stream`).
pub fn socket_in(ns: &Path, _addr: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    in_netns(ns, || raw_socket().map(std::net::TcpStream::from))
}

/// A listening socket inside the namespace.
pub fn listener_in(ns: &Path, addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    in_netns(ns, move || {
        let l = std::net::TcpListener::bind(addr)?;
        l.set_nonblocking(true)?;
        Ok(l)
    })
}

/// For `Command::pre_exec`: opens the namespace now, enters it in the child.
pub fn enter_in_child(cmd: &mut tokio::process::Command, ns: &Path) -> Result<()> {
    let file = std::fs::File::open(ns).with_context(|| format!("open {}", ns.display()))?;
    // SAFETY: the closure only calls setns(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_is_one_transaction_with_a_set_of_cut_links() {
        let r = ruleset(&Grudge::one_way(0, 2), &[(1, 0, 30)]);
        assert!(
            r.starts_with("add table bridge ferric_jepsen\ndelete table bridge ferric_jepsen\n"),
            "{r}"
        );
        assert!(r.contains("elements = { \"sw-n1\" . \"sw-n3\" }"), "{r}");
        assert!(r.contains("iifname . oifname @cut drop"));
        assert!(r.contains("iifname \"sw-n2\" oifname \"sw-n1\" numgen random mod 100 < 30 drop"));
        let healed = ruleset(&Grudge::none(), &[]);
        assert!(
            !healed.contains("set cut") && !healed.contains("@cut"),
            "{healed}"
        );
        let ring = ruleset(&Grudge::majorities_ring(&[0, 1, 2, 3, 4]), &[]);
        assert_eq!(ring.matches(" . \"").count(), 10);
    }

    /// Real namespaces (root only): a listener in member 1, clients in member 2 and the harness;
    /// a one-way cut 2→1 stops member 2 only; healing restores it; everything is removed after.
    #[tokio::test]
    async fn partitions_real_namespaces_when_root() {
        if !NetnsNet::supported() {
            eprintln!("not root or no ip/nft: skipped");
            return;
        }
        let prefix = format!("fjt{}-", std::process::id());
        let net = NetnsNet::create(&prefix, 2).unwrap();
        let addr = SocketAddr::from((NetnsNet::member_ip(0), 7000));
        let std_l = listener_in(&NetnsNet::ns_path(&net.member_ns(0)), addr).unwrap();
        let l = tokio::net::TcpListener::from_std(std_l).unwrap();
        let accept = tokio::spawn(async move {
            loop {
                let _ = l.accept().await;
            }
        });
        let connect = |ns: String| async move {
            let s = socket_in(&NetnsNet::ns_path(&ns), addr).unwrap();
            let s = tokio::net::TcpSocket::from_std_stream(s);
            tokio::time::timeout(Duration::from_millis(300), s.connect(addr))
                .await
                .map(|r| r.is_ok())
                .unwrap_or(false)
        };
        assert!(connect(net.member_ns(1)).await, "member 2 → member 1");
        assert!(connect(net.harness_ns()).await, "harness → member 1");
        net.apply(&Grudge::one_way(1, 0), &[]).unwrap();
        assert!(!connect(net.member_ns(1)).await, "cut");
        assert!(connect(net.harness_ns()).await, "harness unaffected");
        net.heal().unwrap();
        assert!(connect(net.member_ns(1)).await, "healed");
        accept.abort();
        let names: Vec<String> = net.created.clone();
        drop(net);
        let left = ip(&["netns", "list"]).unwrap();
        for n in names {
            assert!(!left.contains(&n), "{n} left behind: {left}");
        }
    }
}
