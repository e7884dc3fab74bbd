//! One IPMI LAN session, blocking (runs on a blocking thread only): session activation by
//! ipmi-rs (RMCP+ RAKP-HMAC-SHA1 / HMAC-SHA1-96 / AES-CBC-128, or IPMI 1.5), plus what ipmi-rs
//! lacks: Set Session Privilege Level right after activation, requests with retransmission on
//! UDP loss and a deadline, answers matched to the request (stale or foreign packets skipped),
//! garbage tolerated up to a bound, Close Session.
//!
//! ipmi-rs panics on some malformed answers (slice indexing, `unwrap`s in its decoders and in
//! its send path); every call into it is wrapped in `catch_unwind`, and a session that panicked
//! is never reused.

use super::commands::*;
use ipmi_rs::connection::{IpmiConnection, LogicalUnit, Message, Request, RequestTargetAddress};
use ipmi_rs::rmcp::{Rmcp, RmcpIpmiError, RmcpIpmiReceiveError};
use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Why an IPMI exchange failed. Messages never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No (usable) answer within the retries / deadline.
    Timeout(String),
    /// Nothing listens (ICMP port unreachable), or the address does not resolve.
    Unreachable(String),
    /// Wrong user or password, or a privilege the user may not have.
    Auth(String),
    /// The BMC is temporarily out of sessions or busy.
    Busy(String),
    /// The BMC answered something that is not a valid answer.
    Protocol(String),
    /// The BMC answered with a non-zero completion code.
    Completion { what: String, cc: u8 },
    /// Bad input on our side (e.g. raw bytes).
    Invalid(String),
}

impl Fault {
    /// Worth one more try on a fresh session (the cached one may have gone stale).
    pub fn session_suspect(&self) -> bool {
        matches!(self, Fault::Timeout(_) | Fault::Protocol(_) | Fault::Unreachable(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Fault::Timeout(m) => format!("no answer from the BMC: {m}"),
            Fault::Unreachable(m) => format!("BMC unreachable: {m}"),
            Fault::Auth(m) => format!("authentication failed: {m}"),
            Fault::Busy(m) => format!("BMC busy: {m}"),
            Fault::Protocol(m) => format!("invalid answer from the BMC: {m}"),
            Fault::Completion { what, cc } => {
                format!("BMC refused {what} (completion code 0x{cc:02x}: {})", completion_code_text(*cc))
            }
            Fault::Invalid(m) => m.clone(),
        }
    }
}

/// Where and how to open a session (the password stays in memory only).
#[derive(Clone)]
pub struct SessionParams {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Vec<u8>,
    /// IPMI privilege code (4 = administrator).
    pub privilege: u8,
    /// IPMI 2.0 (RMCP+) or 1.5.
    pub rmcp_plus: bool,
}

impl std::fmt::Debug for SessionParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"******")
            .field("privilege", &self.privilege)
            .field("rmcp_plus", &self.rmcp_plus)
            .finish()
    }
}

/// Bounds for one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub packet_timeout: Duration,
    pub retries: u32,
    pub deadline: Instant,
}

/// Packets that are not the awaited answer tolerated per request before giving up.
const MAX_JUNK_PER_REQUEST: u32 = 16;
/// A session is retired after this many requests (ipmi-rs does not handle sequence wrap).
pub const MAX_REQUESTS_PER_SESSION: u64 = 1_000_000;

/// An open, privileged session.
pub struct Session {
    rmcp: Rmcp,
    /// The BMC's session id (for Close Session); `None` if it could not be read.
    id: Option<u32>,
    requests: u64,
    /// Retransmissions on this session (a session that retransmitted is not reused: a late
    /// duplicate answer could otherwise be read as the answer to a later request, since ipmi-rs
    /// does not expose the request sequence number to match on).
    retransmissions: u32,
    broken: bool,
}

fn io_timeout(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "decoder panic".into()
    }
}

/// Sorts an ipmi-rs activation error (its Debug text holds no secret: ipmi-rs redacts passwords).
fn classify_activation(debug: &str) -> Fault {
    let d = debug;
    if d.contains("WouldBlock") || d.contains("TimedOut") {
        let stage = if d.starts_with("PongReceive") {
            "no answer to the RMCP presence ping (is a BMC listening there?)"
        } else if d.starts_with("GetChannelAuthenticationCapabilities") {
            "no answer to Get Channel Authentication Capabilities"
        } else {
            "the BMC stopped answering during session set-up"
        };
        Fault::Timeout(stage.to_string())
    } else if d.contains("ConnectionRefused") {
        Fault::Unreachable("connection refused (nothing listens on that address and port)".into())
    } else if d.contains("ServerAuthenticationFailed") || d.contains("RakpMessage4InvalidIntegrityCheckValue") {
        Fault::Auth("the BMC rejected the credentials (wrong password?)".into())
    } else if d.contains("UnauthorizedName") {
        Fault::Auth("unknown user name".into())
    } else if d.contains("InvalidNameLength") {
        Fault::Auth("user name too long".into())
    } else if d.contains("UnauthorizedRoleOrPrivilegeLevelRequested") || d.contains("InvalidRole") {
        Fault::Auth("the user may not have administrator privilege (ipmi-rs asks for it at session start)".into())
    } else if d.contains("InsufficientResources") {
        Fault::Busy("insufficient resources for session".into())
    } else if d.contains("PongRead") || d.contains("IpmiNotSupported") {
        Fault::Protocol("no valid RMCP presence pong (is this an IPMI BMC?)".into())
    } else if d.contains("PasswordTooLong") || d.contains("UsernameTooLong") {
        Fault::Auth(format!("credentials too long for IPMI 1.5 ({})", short(d)))
    } else {
        Fault::Protocol(format!("session activation failed: {}", short(d)))
    }
}

fn short(s: &str) -> String {
    let mut t: String = s.chars().take(200).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

/// Reads the BMC's session id out of ipmi-rs's Debug rendering: ipmi-rs keeps it private and
/// Close Session needs it (ipmi_sim closes by session id only). ipmi-rs redacts the password and
/// Kg in that rendering; the text is dropped at once.
fn session_id_of(rmcp: &Rmcp) -> Option<u32> {
    let s = format!("{rmcp:?}");
    let i = s.find("session_id: ")? + "session_id: ".len();
    let rest = &s[i..];
    let rest = rest.strip_prefix("Some(").unwrap_or(rest);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().filter(|id| *id != 0)
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Fault> {
    let mut addrs =
        (host, port).to_socket_addrs().map_err(|e| Fault::Unreachable(format!("cannot resolve {host}: {e}")))?;
    // Prefer IPv4 (ipmi-rs binds "[::]:0", which reaches both families on Linux).
    let all: Vec<SocketAddr> = addrs.by_ref().take(8).collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| Fault::Unreachable(format!("{host} has no address")))
}

impl Session {
    /// Activates a session and raises it to the requested privilege. Retries activation on
    /// timeouts and busy answers within the deadline.
    pub fn open(p: &SessionParams, lim: Limits) -> Result<Session, Fault> {
        let addr = resolve(&p.host, p.port)?;
        let mut last = Fault::Timeout("deadline passed before the first attempt".into());
        for _attempt in 0..=lim.retries {
            if Instant::now() >= lim.deadline {
                return Err(last);
            }
            let mut rmcp = Rmcp::new(addr, lim.packet_timeout)
                .map_err(|e| Fault::Unreachable(format!("cannot use address {addr}: {e}")))?;
            let user = p.username.clone();
            let pass = p.password.clone();
            let plus = p.rmcp_plus;
            let r = catch_unwind(AssertUnwindSafe(|| rmcp.activate(plus, Some(user.as_str()), Some(pass.as_slice()))));
            match r {
                Ok(Ok(())) => {
                    let mut s =
                        Session { id: session_id_of(&rmcp), rmcp, requests: 0, retransmissions: 0, broken: false };
                    let lim2 = Limits { retries: lim.retries, ..lim };
                    match s.request(NETFN_APP, CMD_SET_SESSION_PRIVILEGE, &[p.privilege], lim2) {
                        Ok(_) => return Ok(s),
                        Err(Fault::Completion { cc, .. }) => {
                            s.close();
                            return Err(Fault::Auth(format!(
                                "the BMC refused privilege level {} for this user (completion code 0x{cc:02x}: {})",
                                privilege_name(p.privilege),
                                completion_code_text(cc)
                            )));
                        }
                        Err(e) => {
                            s.close();
                            return Err(e);
                        }
                    }
                }
                Ok(Err(e)) => {
                    let f = classify_activation(&format!("{e:?}"));
                    match f {
                        Fault::Timeout(_) | Fault::Busy(_) => last = f,
                        other => return Err(other),
                    }
                }
                Err(panic) => {
                    return Err(Fault::Protocol(format!(
                        "malformed answer during session activation ({})",
                        short(&panic_text(panic))
                    )))
                }
            }
        }
        Err(last)
    }

    /// Whether this session can go back to the cache.
    pub fn reusable(&self) -> bool {
        !self.broken && self.retransmissions == 0 && self.requests < MAX_REQUESTS_PER_SESSION
    }

    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Sends one request and waits for its answer: retransmits on silence (`retries` times),
    /// skips foreign or stale packets (bounded), stops at the deadline. Returns the answer's
    /// data after a zero completion code.
    pub fn request(&mut self, netfn: u8, cmd: u8, data: &[u8], lim: Limits) -> Result<Vec<u8>, Fault> {
        if self.broken {
            return Err(Fault::Protocol("session is broken".into()));
        }
        let what = format!("command netfn 0x{netfn:02x} cmd 0x{cmd:02x}");
        let mut sends = 0u32;
        let mut junk = 0u32;
        loop {
            if Instant::now() >= lim.deadline {
                return Err(Fault::Timeout(format!("{what}: deadline passed after {sends} send(s)")));
            }
            if sends > lim.retries {
                return Err(Fault::Timeout(format!("{what}: no answer to {sends} send(s)")));
            }
            let mut req =
                Request::new(Message::new_raw(netfn, cmd, data.to_vec()), RequestTargetAddress::Bmc(LogicalUnit::Zero));
            self.requests += 1;
            let sent = catch_unwind(AssertUnwindSafe(|| self.rmcp.send(&mut req)));
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.broken = true;
                    return Err(Fault::Unreachable(format!("{what}: send failed: {}", short(&format!("{e:?}")))));
                }
                Err(p) => {
                    // ipmi-rs unwraps the socket send: a pending ICMP error lands here.
                    self.broken = true;
                    return Err(Fault::Unreachable(format!("{what}: send failed ({})", short(&panic_text(p)))));
                }
            }
            if sends > 0 {
                self.retransmissions += 1;
            }
            sends += 1;
            // Wait for the answer; each recv waits at most one packet timeout.
            loop {
                if Instant::now() >= lim.deadline {
                    return Err(Fault::Timeout(format!("{what}: deadline passed after {sends} send(s)")));
                }
                let got = catch_unwind(AssertUnwindSafe(|| self.rmcp.recv()));
                match got {
                    Ok(Ok(resp)) => {
                        if resp.netfn_raw() == netfn + 1 && resp.cmd() == cmd {
                            let cc = resp.cc();
                            if cc != 0 {
                                return Err(Fault::Completion { what: what.clone(), cc });
                            }
                            return Ok(resp.data().to_vec());
                        }
                        junk += 1;
                    }
                    Ok(Err(RmcpIpmiError::Receive(RmcpIpmiReceiveError::Io(e)))) if io_timeout(e.kind()) => break,
                    Ok(Err(RmcpIpmiError::Receive(RmcpIpmiReceiveError::Io(e)))) => {
                        self.broken = true;
                        let m = if e.kind() == ErrorKind::ConnectionRefused {
                            "connection refused (the BMC stopped answering on that port)".to_string()
                        } else {
                            format!("receive failed: {e}")
                        };
                        return Err(Fault::Unreachable(format!("{what}: {m}")));
                    }
                    Ok(Err(_garbage)) => junk += 1,
                    Err(p) => {
                        self.broken = true;
                        return Err(Fault::Protocol(format!("{what}: malformed answer ({})", short(&panic_text(p)))));
                    }
                }
                if junk > MAX_JUNK_PER_REQUEST {
                    self.broken = true;
                    return Err(Fault::Protocol(format!("{what}: {junk} packets that are not the answer")));
                }
            }
        }
    }

    /// Close Session, fire and forget (a dead BMC must not hold the caller).
    pub fn close(mut self) {
        let Some(id) = self.id else { return };
        let mut req = Request::new(
            Message::new_raw(NETFN_APP, CMD_CLOSE_SESSION, id.to_le_bytes().to_vec()),
            RequestTargetAddress::Bmc(LogicalUnit::Zero),
        );
        let _ = catch_unwind(AssertUnwindSafe(|| self.rmcp.send(&mut req)));
    }

    pub fn id(&self) -> Option<u32> {
        self.id
    }

    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }
}

pub fn privilege_name(code: u8) -> &'static str {
    match code {
        1 => "CALLBACK",
        2 => "USER",
        3 => "OPERATOR",
        4 => "ADMINISTRATOR",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_errors_are_sorted() {
        assert!(matches!(classify_activation("PongReceive(Os { code: 11, kind: WouldBlock })"), Fault::Timeout(_)));
        assert!(matches!(
            classify_activation("PongReceive(Os { code: 111, kind: ConnectionRefused })"),
            Fault::Unreachable(_)
        ));
        assert!(matches!(classify_activation("V2_0(ServerAuthenticationFailed)"), Fault::Auth(_)));
        assert!(matches!(
            classify_activation("V2_0(RakpMessage2Parse(ErrorStatusCode(UnauthorizedName)))"),
            Fault::Auth(_)
        ));
        assert!(matches!(classify_activation("PongRead"), Fault::Protocol(_)));
        assert!(Fault::Timeout(String::new()).session_suspect());
        assert!(!Fault::Completion { what: String::new(), cc: 0xcc }.session_suspect());
        let d = Fault::Completion { what: "chassis control".into(), cc: 0xcc }.describe();
        assert!(d.contains("0xcc") && d.contains("invalid data field"), "{d}");
    }

    #[test]
    fn params_debug_hides_the_password() {
        let p = SessionParams {
            host: "h".into(),
            port: 623,
            username: "u".into(),
            password: b"hunter2".to_vec(),
            privilege: 4,
            rmcp_plus: true,
        };
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
