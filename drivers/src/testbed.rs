//! Real BMC simulators as child processes, for tests and benchmarks (this crate's, and the
//! conductor's): OpenIPMI's `ipmi_sim` (one process per BMC, on a loopback UDP port the OS
//! picked, with a `chassis_control` script that keeps power and boot state in files) and
//! sushy-tools' Redfish emulator (`--fake` system driver, optional basic auth and TLS).
//!
//! Each simulator gets its own temporary directory and is killed (and the directory removed)
//! on drop. Readiness is polled with a deadline, never slept for. A missing tool is an error
//! with a clear message (tests must fail, not pass silently).
//!
//! The ipmi_sim configuration and the chassis script live in `drivers/tests/bmc/` and are
//! compiled in here.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CHASSIS_SH: &str = include_str!("../tests/bmc/chassis.sh");
const SIM_EMU: &str = include_str!("../tests/bmc/sim.emu");
const LAN_CONF_IN: &str = include_str!("../tests/bmc/lan.conf.in");

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        let base = std::env::var_os("FERRIC_TESTBED_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let p = base.join(format!("{prefix}-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file())
}

/// `ipmi_sim` and `ipmitool`, or a message saying how to get them.
pub fn require_ipmi_tools() -> Result<(), String> {
    for t in ["ipmi_sim", "ipmitool"] {
        if which(t).is_none() {
            return Err(format!(
                "`{t}` is not installed: run scripts/testbed-setup.sh (Debian packages openipmi, ipmitool)"
            ));
        }
    }
    Ok(())
}

/// Where `sushy-emulator` lives: `$FERRIC_VENV/bin` (default `~/.cache/ferric/venv`).
pub fn venv() -> PathBuf {
    match std::env::var_os("FERRIC_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ferric/venv"),
    }
}

fn free_udp_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_tcp_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// RMCP presence ping (ASF) and wait for the pong: the BMC answers UDP.
pub fn asf_ping(port: u16, timeout: Duration) -> bool {
    let Ok(s) = UdpSocket::bind("127.0.0.1:0") else { return false };
    if s.set_read_timeout(Some(timeout)).is_err() || s.connect(("127.0.0.1", port)).is_err() {
        return false;
    }
    // RMCP header (version 6, seq 0xff, class ASF) + ASF ping (IANA 4542, type 0x80, tag 1).
    let ping = [0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00];
    if s.send(&ping).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.recv(&mut buf), Ok(n) if n >= 9 && buf[8] == 0x40)
}

/// How to start an `ipmi_sim`.
#[derive(Debug, Clone)]
pub struct IpmiSimOptions {
    pub username: String,
    pub password: String,
}

impl Default for IpmiSimOptions {
    fn default() -> Self {
        IpmiSimOptions { username: "admin".into(), password: "password".into() }
    }
}

/// One simulated IPMI BMC (an `ipmi_sim` process) on 127.0.0.1:`port`.
#[derive(Debug)]
pub struct IpmiSim {
    pub port: u16,
    pub username: String,
    pub password: String,
    child: Option<Child>,
    node_dir: PathBuf,
    dir: TempDir,
}

impl IpmiSim {
    /// Starts one BMC and waits (≤ 10 s) until it answers.
    pub fn start() -> Result<IpmiSim, String> {
        IpmiSim::start_with(&IpmiSimOptions::default())
    }

    pub fn start_with(opts: &IpmiSimOptions) -> Result<IpmiSim, String> {
        let mut last = String::new();
        for _ in 0..5 {
            let mut sim = IpmiSim::spawn(opts)?;
            match sim.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(sim),
                Err(e) => last = e, // port taken between our probe and its bind: try another
            }
        }
        Err(format!("ipmi_sim did not come up: {last}"))
    }

    /// Starts the process without waiting (to start many at once; then `wait_ready` each).
    pub fn spawn(opts: &IpmiSimOptions) -> Result<IpmiSim, String> {
        require_ipmi_tools()?;
        let dir = TempDir::new("ferric-ipmi-sim").map_err(|e| format!("temp dir: {e}"))?;
        let port = free_udp_port().map_err(|e| format!("free port: {e}"))?;
        let node_dir = dir.path().join("node");
        let state_dir = dir.path().join("state");
        let script = dir.path().join("chassis.sh");
        let io = |e: std::io::Error| format!("writing ipmi_sim files: {e}");
        std::fs::create_dir_all(&node_dir).map_err(io)?;
        std::fs::create_dir_all(&state_dir).map_err(io)?;
        std::fs::write(&script, CHASSIS_SH).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        std::fs::write(dir.path().join("sim.emu"), SIM_EMU).map_err(io)?;
        let conf = LAN_CONF_IN
            .replace("@NAME@", &format!("ferric{port}"))
            .replace("@PORT@", &port.to_string())
            .replace("@CHASSIS@", &format!("{} {}", script.display(), node_dir.display()))
            .replace("@USER@", &opts.username)
            .replace("@PASSWORD@", &opts.password);
        std::fs::write(dir.path().join("lan.conf"), conf).map_err(io)?;
        let child = Command::new("ipmi_sim")
            .arg("-c")
            .arg(dir.path().join("lan.conf"))
            .arg("-f")
            .arg(dir.path().join("sim.emu"))
            .arg("-s")
            .arg(&state_dir)
            .arg("-n")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start ipmi_sim: {e}"))?;
        Ok(IpmiSim {
            port,
            username: opts.username.clone(),
            password: opts.password.clone(),
            child: Some(child),
            node_dir,
            dir,
        })
    }

    /// Polls (ASF ping) until the BMC answers, the process dies, or the deadline passes.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("ipmi_sim on port {} exited: {status}", self.port));
                }
            }
            if asf_ping(self.port, Duration::from_millis(50)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("ipmi_sim on port {} did not answer within {timeout:?}", self.port));
            }
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `driver_info` for an ipmi node managed by this BMC.
    pub fn driver_info(&self) -> serde_json::Map<String, Value> {
        json!({
            "ipmi_address": "127.0.0.1",
            "ipmi_port": self.port,
            "ipmi_username": self.username,
            "ipmi_password": self.password,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    /// The power state the chassis script keeps (`None` before the first change: off).
    pub fn power_on(&self) -> bool {
        std::fs::read_to_string(self.node_dir.join("power")).map(|s| s.trim() == "1").unwrap_or(false)
    }

    /// The boot device the chassis script keeps (`default` = disk).
    pub fn boot_device(&self) -> Option<String> {
        std::fs::read_to_string(self.node_dir.join("boot")).ok().map(|s| s.trim().to_string())
    }

    /// What the chassis script was asked to do, in order (`power 1`, `boot pxe`, ...).
    pub fn events(&self) -> Vec<String> {
        std::fs::read_to_string(self.node_dir.join("events.log"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Sets the power state behind the BMC's back (a machine that turned itself off).
    pub fn set_power_file(&self, on: bool) {
        let _ = std::fs::write(self.node_dir.join("power"), if on { "1\n" } else { "0\n" });
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        let pid = self.pid().ok_or("ipmi_sim is not running")?;
        let st = Command::new("kill").arg(sig).arg(pid.to_string()).status().map_err(|e| format!("kill: {e}"))?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("kill {sig} {pid} failed"))
        }
    }

    /// Freezes the BMC (SIGSTOP): it stops answering mid-session.
    pub fn freeze(&self) -> Result<(), String> {
        self.signal("-STOP")
    }

    pub fn thaw(&self) -> Result<(), String> {
        self.signal("-CONT")
    }

    /// Kills the BMC now (its port then answers ICMP unreachable).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = self.signal_pid(c.id(), "-CONT");
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal_pid(&self, pid: u32, sig: &str) -> Result<(), String> {
        Command::new("kill").arg(sig).arg(pid.to_string()).status().map(|_| ()).map_err(|e| e.to_string())
    }

    /// Runs `ipmitool -I lanplus -C 3` against this BMC (password via the environment, bounded
    /// by `timeout 30`), returning stdout or the error output.
    pub fn ipmitool(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("timeout")
            .arg("30")
            .arg("ipmitool")
            .args([
                "-I",
                "lanplus",
                "-H",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                &self.username,
                "-E",
                "-C",
                "3",
            ])
            .args(args)
            .env("IPMI_PASSWORD", &self.password)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run ipmitool: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "ipmitool {args:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

/// CPU time of a process plus that of its reaped children (`cutime` + `cstime`): for
/// `ipmi_sim`, whose chassis script runs as a child process on every power query.
pub fn process_cpu_with_children(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let mut ticks = 0u64;
    for i in 11..=14 {
        ticks += f.get(i)?.parse::<u64>().ok()?;
    }
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time of a process's main thread with nanosecond precision (`/proc/<pid>/schedstat`):
/// for single-threaded processes (ipmi_sim) whose per-process tick counts round to zero.
pub fn process_runtime(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    s.split_whitespace().next()?.parse::<u64>().ok().map(Duration::from_nanos)
}

/// CPU time the whole machine spent busy (all processes, all cores) since boot, from
/// `/proc/stat` (user + nice + system + irq + softirq + steal).
pub fn machine_busy() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
    Some(Duration::from_millis(busy * 10))
}

/// This process's CPU time.
pub fn self_cpu() -> Option<Duration> {
    process_cpu(std::process::id())
}

/// How to start a Redfish emulator.
#[derive(Debug, Clone, Default)]
pub struct SushyOptions {
    /// Number of fake systems (default 1).
    pub systems: usize,
    /// Basic auth `(user, password)`; none = open.
    pub auth: Option<(String, String)>,
    /// Serve HTTPS with a certificate from a CA made for the occasion (see `ca_path`).
    pub tls: bool,
}

/// A sushy-tools Redfish emulator with the fake system driver on 127.0.0.1:`port`.
#[derive(Debug)]
pub struct SushyEmulator {
    pub port: u16,
    /// Uuids of the fake systems (`/redfish/v1/Systems/<uuid>`), all powered off at start.
    pub systems: Vec<String>,
    pub auth: Option<(String, String)>,
    /// The CA that signed the server certificate, when TLS is on.
    pub ca_path: Option<PathBuf>,
    child: Option<Child>,
    log: PathBuf,
    dir: TempDir,
}

/// Makes a CA and a server certificate for 127.0.0.1/localhost in `dir` (openssl CLI); returns
/// `(ca.pem, server.pem, server.key)`.
pub fn make_test_certificates(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), String> {
    if which("openssl").is_none() {
        return Err("`openssl` is not installed (needed to make test certificates)".into());
    }
    let run = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(|e| e.to_string())?;
    run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"])?;
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ferric-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])?;
    run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"])?;
    run(&["req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"])?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ])?;
    Ok((dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key")))
}

impl SushyEmulator {
    /// Starts the emulator and waits (≤ 30 s) until it accepts connections.
    pub fn start(opts: &SushyOptions) -> Result<SushyEmulator, String> {
        let exe = venv().join("bin/sushy-emulator");
        if !exe.is_file() {
            return Err(format!(
                "sushy-emulator not found at {}: run scripts/testbed-setup.sh (or set FERRIC_VENV)",
                exe.display()
            ));
        }
        let mut last = String::new();
        for _ in 0..3 {
            let mut e = SushyEmulator::spawn(&exe, opts)?;
            match e.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return Ok(e),
                Err(m) => last = m,
            }
        }
        Err(format!("sushy-emulator did not come up: {last}"))
    }

    fn spawn(exe: &Path, opts: &SushyOptions) -> Result<SushyEmulator, String> {
        let dir = TempDir::new("ferric-sushy").map_err(|e| format!("temp dir: {e}"))?;
        let port = free_tcp_port().map_err(|e| format!("free port: {e}"))?;
        let n = opts.systems.max(1);
        let tag = COUNTER.fetch_add(1, Ordering::Relaxed);
        let systems: Vec<String> =
            (0..n).map(|i| format!("{:08x}-0000-4000-8000-{:012x}", port as u32, (tag << 16) + i as u64)).collect();
        let mut conf = String::new();
        conf.push_str("SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n");
        conf.push_str(&format!("SUSHY_EMULATOR_LISTEN_PORT = {port}\n"));
        conf.push_str("SUSHY_EMULATOR_FAKE_DRIVER = True\n");
        conf.push_str(&format!("SUSHY_EMULATOR_STATE_DIR = '{}'\n", dir.path().join("state").display()));
        conf.push_str("SUSHY_EMULATOR_FAKE_SYSTEMS = [\n");
        for (i, u) in systems.iter().enumerate() {
            conf.push_str(&format!(
                "  {{'uuid': '{u}', 'name': 'node-{i}', 'power_state': 'Off', 'nics': [{{'mac': '52:54:00:00:{:02x}:{:02x}', 'ip': '127.0.0.1'}}]}},\n",
                (i >> 8) & 0xff,
                i & 0xff
            ));
        }
        conf.push_str("]\n");
        if let Some((user, pass)) = &opts.auth {
            let py = venv().join("bin/python");
            let out = Command::new(&py)
                .args([
                    "-c",
                    "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(4)).decode())",
                    pass,
                ])
                .output()
                .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
            if !out.status.success() {
                return Err(format!("bcrypt hashing failed: {}", String::from_utf8_lossy(&out.stderr)));
            }
            let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).map_err(|e| e.to_string())?;
            conf.push_str(&format!("SUSHY_EMULATOR_AUTH_FILE = '{}'\n", htpasswd.display()));
        }
        let mut ca_path = None;
        if opts.tls {
            let (ca, cert, key) = make_test_certificates(dir.path())?;
            conf.push_str(&format!("SUSHY_EMULATOR_SSL_CERT = '{}'\n", cert.display()));
            conf.push_str(&format!("SUSHY_EMULATOR_SSL_KEY = '{}'\n", key.display()));
            ca_path = Some(ca);
        }
        let conf_path = dir.path().join("emulator.conf");
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let log = dir.path().join("emulator.log");
        let logf = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .arg("--config")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().map_err(|e| e.to_string())?)
            .stderr(logf)
            .spawn()
            .map_err(|e| format!("cannot start sushy-emulator: {e}"))?;
        Ok(SushyEmulator { port, systems, auth: opts.auth.clone(), ca_path, child: Some(child), log, dir })
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    let tail: String = log.chars().rev().take(800).collect::<Vec<_>>().into_iter().rev().collect();
                    return Err(format!("sushy-emulator exited ({status}): {tail}"));
                }
            }
            if self.answers() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("sushy-emulator on port {} not ready within {timeout:?}", self.port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Plain HTTP: the service root answers; HTTPS: the port accepts connections.
    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_millis(200))
        else {
            return false;
        };
        if self.ca_path.is_some() {
            return true;
        }
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"GET /redfish/v1/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf), Ok(n) if n >= 12 && (&buf[..12] == b"HTTP/1.0 200" || &buf[..12] == b"HTTP/1.1 200"))
    }

    /// Base URL (`http://127.0.0.1:PORT` or https).
    pub fn url(&self) -> String {
        let scheme = if self.ca_path.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `driver_info` for a redfish node on system `i`.
    pub fn driver_info(&self, i: usize) -> serde_json::Map<String, Value> {
        let mut d = json!({
            "redfish_address": self.url(),
            "redfish_system_id": format!("/redfish/v1/Systems/{}", self.systems[i]),
        });
        if let Some((u, p)) = &self.auth {
            d["redfish_username"] = json!(u);
            d["redfish_password"] = json!(p);
        }
        if let Some(ca) = &self.ca_path {
            d["redfish_verify_ca"] = json!(ca.display().to_string());
        }
        d.as_object().cloned().unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SushyEmulator {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
