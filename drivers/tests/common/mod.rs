//! Helpers shared by the integration tests: nodes, tasks, registries with short timeouts, and
//! the power/management conformance suite every implementation passes.
#![allow(dead_code)]

pub mod conformance;
pub mod fake_redfish;

use ferric_drivers::{DriverRegistry, DriversConfig, TaskContext};
use ferric_model::command::LockToken;
use ferric_model::time::Timestamp;
use ferric_model::{Dict, Node};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

pub fn dict(v: Value) -> Dict {
    v.as_object().cloned().expect("a JSON object")
}

/// A node of `driver` with `driver_info`, interfaces left empty (the registry's defaults apply).
pub fn node(driver: &str, driver_info: Dict) -> Node {
    let mut n = Node::new(Uuid::new_v4(), driver, Timestamp(0));
    n.driver_info = driver_info;
    n
}

/// A task on `node` run by `member` under lock generation `generation`.
pub fn task(node: Node, member: &str, generation: u64) -> TaskContext {
    let mut t = TaskContext::new(node, member);
    t.lock = Some(LockToken { holder: member.to_string(), generation });
    t
}

/// Drivers config with timeouts short enough for tests (still generous for a loaded machine).
pub fn test_config() -> DriversConfig {
    let mut c = DriversConfig::default();
    c.ipmi.packet_timeout_ms = 500;
    c.ipmi.retries = 2;
    c.ipmi.command_timeout_s = 6;
    c.ipmi.power_poll_interval_ms = 50;
    c.ipmi.power_state_change_timeout_s = 10;
    c.ipmi.soft_power_off_timeout_s = 10;
    c.redfish.power_poll_interval_ms = 250;
    c.redfish.power_state_change_timeout_s = 30;
    c.redfish.request_timeout_s = 10;
    c.redfish.connect_timeout_s = 3;
    c.redfish.connection_attempts = 2;
    c.redfish.connection_retry_interval_ms = 200;
    c
}

pub fn registry() -> DriverRegistry {
    DriverRegistry::new(&test_config()).expect("default drivers config loads")
}

/// Runs `f` and returns how long it took.
pub async fn timed<T, F: std::future::Future<Output = T>>(f: F) -> (T, Duration) {
    let t = std::time::Instant::now();
    let r = f.await;
    (r, t.elapsed())
}

/// Tests need the tools: fail loudly (never skip silently) when they are missing.
pub fn require_ipmi() {
    if let Err(e) = ferric_drivers::testbed::require_ipmi_tools() {
        panic!("{e}");
    }
}

/// A UDP "BMC" on loopback that misbehaves on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Never answers (a black hole).
    Silent,
    /// Answers every packet with random bytes.
    Noise,
    /// Answers the RMCP presence ping properly, then random bytes.
    PongThenNoise,
    /// Answers the ping with a pong whose announced length is a lie (truncated).
    TruncatedPong,
}

pub struct FakeUdpBmc {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeUdpBmc {
    pub fn start(mode: Misbehaviour) -> FakeUdpBmc {
        use std::sync::atomic::Ordering;
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            // Bounded: stops when asked (on drop), or after 10 minutes at most.
            let end = std::time::Instant::now() + Duration::from_secs(600);
            while !stop2.load(Ordering::Relaxed) && std::time::Instant::now() < end {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
                let is_ping = n >= 12 && buf[3] == 0x06 && buf[8] == 0x80;
                let tag = if n > 9 { buf[9] } else { 0 };
                let noise: Vec<u8> = (0..(20 + rand_byte() as usize % 60)).map(|_| rand_byte()).collect();
                let pong_head = [0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x40, tag, 0x00, 0x10];
                let reply: Option<Vec<u8>> = match mode {
                    Misbehaviour::Silent => None,
                    Misbehaviour::Noise => Some(noise),
                    Misbehaviour::PongThenNoise if is_ping => {
                        let mut p = pong_head.to_vec();
                        p.extend_from_slice(&[0, 0, 0x11, 0xbe, 0, 0, 0, 0, 0x81, 0x00, 0, 0, 0, 0, 0, 0]);
                        Some(p)
                    }
                    Misbehaviour::PongThenNoise => Some(noise),
                    Misbehaviour::TruncatedPong => Some(pong_head.to_vec()),
                };
                if let Some(r) = reply {
                    let _ = sock.send_to(&r, from);
                }
            }
        });
        FakeUdpBmc { port, stop, thread: Some(thread) }
    }
}

impl Drop for FakeUdpBmc {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rand_byte() -> u8 {
    use std::cell::Cell;
    thread_local!(static S: Cell<u64> = Cell::new(0x9e3779b97f4a7c15 ^ std::process::id() as u64));
    S.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 24) as u8
    })
}

/// A UDP proxy in front of a BMC that loses chosen packets from the client: the first RMCP+
/// Open Session request, the first RAKP 1, and every `nth` IPMI request inside a session.
pub struct LossyProxy {
    pub port: u16,
    pub dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl LossyProxy {
    pub fn start(bmc_port: u16, nth: u64) -> LossyProxy {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let front = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        back.connect(("127.0.0.1", bmc_port)).unwrap();
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        }
        let port = front.local_addr().unwrap().port();
        let client: Arc<Mutex<Option<std::net::SocketAddr>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let (front2, back2) = (front.try_clone().unwrap(), back.try_clone().unwrap());
        let (c1, c2, s1, s2, d1) = (client.clone(), client, stop.clone(), stop.clone(), dropped.clone());
        let up = std::thread::spawn(move || {
            let (mut opened, mut rakp1, mut ipmi) = (false, false, 0u64);
            let end = std::time::Instant::now() + Duration::from_secs(600);
            let mut buf = [0u8; 2048];
            while !s1.load(Ordering::Relaxed) && std::time::Instant::now() < end {
                let Ok((n, from)) = front.recv_from(&mut buf) else { continue };
                *c1.lock().unwrap() = Some(from);
                let p = &buf[..n];
                let rmcp_plus = n > 6 && p[3] == 0x07 && p[4] == 0x06;
                let drop = if !rmcp_plus {
                    false
                } else {
                    match p[5] & 0x3f {
                        0x10 if !opened => {
                            opened = true;
                            true
                        }
                        0x12 if !rakp1 => {
                            rakp1 = true;
                            true
                        }
                        0x00 => {
                            ipmi += 1;
                            nth > 0 && ipmi % nth == 0
                        }
                        _ => false,
                    }
                };
                if drop {
                    d1.fetch_add(1, Ordering::Relaxed);
                } else {
                    let _ = back.send(p);
                }
            }
        });
        let down = std::thread::spawn(move || {
            let end = std::time::Instant::now() + Duration::from_secs(600);
            let mut buf = [0u8; 2048];
            while !s2.load(Ordering::Relaxed) && std::time::Instant::now() < end {
                let Ok(n) = back2.recv(&mut buf) else { continue };
                if let Some(c) = *c2.lock().unwrap() {
                    let _ = front2.send_to(&buf[..n], c);
                }
            }
        });
        LossyProxy { port, dropped, stop, threads: vec![up, down] }
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
