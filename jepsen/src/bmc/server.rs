//! The fake BMC server. It speaks enough Redfish for a power driver — `GET /redfish/v1/Systems/{id}`
//! (with `PowerState`), `POST …/Actions/ComputerSystem.Reset`, `PATCH` of the `Boot` override —
//! and records every request with `X-Ferric-Member` and `X-Ferric-Lock-Generation`.
//!
//! Observe mode accepts everything (a real, token-blind BMC). Fence mode answers 409 to a
//! mutating request whose generation is lower than the highest it has seen for that system.
//! Systems exist on first use and start powered off.
//!
//! The trap (for the `pause-action` nemesis): once armed, the next request that opens an action —
//! the first the BMC sees from a member under a new lock generation for a system — is reported
//! to the nemesis and held for a while before it is answered, so a SIGSTOP lands while that
//! member is in the middle of acting on the machine.

use super::BmcEvent;
use crate::clock::RunClock;
use crate::history::JsonlWriter;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const MEMBER_HEADER: &str = "x-ferric-member";
pub const GENERATION_HEADER: &str = "x-ferric-lock-generation";

/// Largest request body read.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// At most this many connections served at once.
const MAX_CONNECTIONS: usize = 256;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BmcMode {
    Observe,
    Fence,
}

#[derive(Debug, Clone)]
struct System {
    power_on: bool,
    boot_target: String,
    boot_enabled: String,
}

impl Default for System {
    fn default() -> Self {
        System {
            power_on: false,
            boot_target: "None".into(),
            boot_enabled: "Disabled".into(),
        }
    }
}

struct Inner {
    systems: HashMap<String, System>,
    max_generation: HashMap<String, u64>,
    /// (system, generation) pairs any request has carried: a new pair opens an action.
    generations_seen: HashSet<(String, u64)>,
    events: Vec<BmcEvent>,
    writer: Option<JsonlWriter>,
}

struct Shared {
    mode: BmcMode,
    clock: RunClock,
    /// Artificial latency before a mutating command is carried out (widens race windows).
    delay: Duration,
    inner: Mutex<Inner>,
    trap: Mutex<Option<Trap>>,
}

struct Trap {
    hold: Duration,
    tx: tokio::sync::oneshot::Sender<TrapHit>,
}

/// The request the armed trap caught: a member starting an action on a machine.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrapHit {
    pub member: String,
    pub system: String,
    pub generation: u64,
    pub method: String,
    /// Run time (ns) at receipt.
    pub time: u64,
}

/// A cheap handle on the fake BMC's machines, for workers that want to know a power state.
#[derive(Clone)]
pub struct BmcHandle(Arc<Shared>);

impl std::fmt::Debug for BmcHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BmcHandle")
    }
}

impl BmcHandle {
    /// Current power state of a system (`None` if never touched).
    pub fn power_on(&self, system: &str) -> Option<bool> {
        self.0
            .inner
            .lock()
            .expect("bmc lock")
            .systems
            .get(system)
            .map(|s| s.power_on)
    }
}

/// A running fake BMC; stops when dropped.
pub struct FakeBmc {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeBmc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBmc {
    /// Serves on `listener`, logging to `log` (JSON Lines) if given.
    pub fn start(
        listener: TcpListener,
        mode: BmcMode,
        clock: RunClock,
        delay: Duration,
        log: Option<&Path>,
    ) -> anyhow::Result<FakeBmc> {
        let addr = listener.local_addr()?;
        let writer = log.map(JsonlWriter::create).transpose()?;
        let shared = Arc::new(Shared {
            mode,
            clock,
            delay,
            inner: Mutex::new(Inner {
                systems: HashMap::new(),
                max_generation: HashMap::new(),
                generations_seen: HashSet::new(),
                events: Vec::new(),
                writer,
            }),
            trap: Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FakeBmc { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn mode(&self) -> BmcMode {
        self.shared.mode
    }

    /// Everything received so far.
    pub fn events(&self) -> Vec<BmcEvent> {
        self.shared.inner.lock().expect("bmc lock").events.clone()
    }

    /// Current power state of a system (`None` if never touched).
    pub fn power_on(&self, system: &str) -> Option<bool> {
        self.handle().power_on(system)
    }

    pub fn handle(&self) -> BmcHandle {
        BmcHandle(self.shared.clone())
    }

    /// Arms the trap: the next request that opens an action is reported on the returned channel
    /// and answered only after `hold`. Re-arming replaces an unsprung trap.
    pub fn arm_trap(&self, hold: Duration) -> tokio::sync::oneshot::Receiver<TrapHit> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        *self.shared.trap.lock().expect("trap lock") = Some(Trap { hold, tx });
        rx
    }

    pub fn disarm_trap(&self) {
        self.shared.trap.lock().expect("trap lock").take();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if conns.len() >= MAX_CONNECTIONS {
            continue; // dropped: the client sees a reset, as with an overloaded BMC
        }
        let shared = shared.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    })));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn redfish_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "@Message.ExtendedInfo": []}})
}

fn system_json(id: &str, s: &System) -> Value {
    json!({
        "@odata.id": format!("/redfish/v1/Systems/{id}"),
        "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
        "Id": id,
        "Name": format!("ferric-jepsen {id}"),
        "PowerState": if s.power_on { "On" } else { "Off" },
        "Boot": {
            "BootSourceOverrideTarget": s.boot_target,
            "BootSourceOverrideEnabled": s.boot_enabled,
            "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Hdd", "Cd", "BiosSetup", "UefiHttp"],
        },
        "Actions": {"#ComputerSystem.Reset": {
            "target": format!("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset"),
            "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "PushPowerButton"],
        }},
    })
}

/// What a request asks for.
enum Route {
    Root,
    Systems,
    GetSystem(String),
    Reset(String),
    PatchBoot(String),
    NotFound,
}

fn route(method: &str, path: &str) -> Route {
    let path = path.trim_end_matches('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match (method, parts.as_slice()) {
        ("GET", ["redfish", "v1"]) => Route::Root,
        ("GET", ["redfish", "v1", "Systems"]) => Route::Systems,
        ("GET", ["redfish", "v1", "Systems", id]) => Route::GetSystem(id.to_string()),
        ("PATCH", ["redfish", "v1", "Systems", id]) => Route::PatchBoot(id.to_string()),
        ("POST", ["redfish", "v1", "Systems", id, "Actions", "ComputerSystem.Reset"]) => {
            Route::Reset(id.to_string())
        }
        _ => Route::NotFound,
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let time = shared.clock.now_ns();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let member = header(MEMBER_HEADER);
    let generation_raw = header(GENERATION_HEADER);
    let generation = generation_raw
        .as_deref()
        .and_then(|g| g.trim().parse::<u64>().ok());
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return respond(
                413,
                redfish_error("Base.1.0.GeneralError", "body too large"),
            )
        }
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let route = route(&method, &path);
    let (system, action, mutating) = match &route {
        Route::GetSystem(id) => (id.clone(), None, false),
        Route::Reset(id) => (
            id.clone(),
            body.get("ResetType")
                .and_then(Value::as_str)
                .map(str::to_string),
            true,
        ),
        Route::PatchBoot(id) => {
            let target = body
                .pointer("/Boot/BootSourceOverrideTarget")
                .and_then(Value::as_str)
                .unwrap_or("?");
            (id.clone(), Some(format!("boot:{target}")), true)
        }
        Route::Root => {
            return respond(
                200,
                json!({"@odata.id": "/redfish/v1", "Id": "RootService", "RedfishVersion": "1.10.0", "Systems": {"@odata.id": "/redfish/v1/Systems"}}),
            )
        }
        Route::Systems => {
            let inner = shared.inner.lock().expect("bmc lock");
            let members: Vec<Value> = inner
                .systems
                .keys()
                .map(|id| json!({"@odata.id": format!("/redfish/v1/Systems/{id}")}))
                .collect();
            return respond(
                200,
                json!({"@odata.id": "/redfish/v1/Systems", "Members@odata.count": members.len(), "Members": members}),
            );
        }
        Route::NotFound => {
            return respond(404, redfish_error("Base.1.0.ResourceMissingAtURI", &path))
        }
    };
    if let (Some(g), Some(m)) = (generation, member.as_deref()) {
        let opens_action = shared
            .inner
            .lock()
            .expect("bmc lock")
            .generations_seen
            .insert((system.clone(), g));
        let sprung = if opens_action {
            shared.trap.lock().expect("trap lock").take()
        } else {
            None
        };
        if let Some(trap) = sprung {
            let hit = TrapHit {
                member: m.to_string(),
                system: system.clone(),
                generation: g,
                method: method.clone(),
                time,
            };
            // The nemesis may have given up waiting: then the hold is harmless.
            let _ = trap.tx.send(hit);
            tokio::time::sleep(trap.hold).await;
        }
    }
    if mutating && !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    let mut inner = shared.inner.lock().expect("bmc lock");
    let max_seen = inner.max_generation.get(&system).copied();
    let stale = mutating && matches!((generation, max_seen), (Some(g), Some(m)) if g < m);
    let refused = stale && shared.mode == BmcMode::Fence;
    let bad_request = match (&route, action.as_deref()) {
        (Route::Reset(_), None) => Some("ResetType missing"),
        (Route::Reset(_), Some(a))
            if !matches!(
                a,
                "On" | "ForceOff"
                    | "GracefulShutdown"
                    | "GracefulRestart"
                    | "ForceRestart"
                    | "Nmi"
                    | "PushPowerButton"
            ) =>
        {
            Some("unsupported ResetType")
        }
        _ => None,
    };
    let (status, reply, reason) = if refused {
        let msg = format!(
            "generation {} is older than {} already seen",
            generation.unwrap_or(0),
            max_seen.unwrap_or(0)
        );
        (
            409,
            redfish_error("Base.1.0.ResourceInUse", &msg),
            Some("stale-generation".to_string()),
        )
    } else if let Some(why) = bad_request {
        (
            400,
            redfish_error("Base.1.0.ActionParameterNotSupported", why),
            Some(why.to_string()),
        )
    } else {
        let sys = inner.systems.entry(system.clone()).or_default();
        match (&route, action.as_deref()) {
            (Route::Reset(_), Some("On" | "GracefulRestart" | "ForceRestart")) => {
                sys.power_on = true
            }
            (Route::Reset(_), Some("ForceOff" | "GracefulShutdown")) => sys.power_on = false,
            (Route::Reset(_), Some("PushPowerButton")) => sys.power_on = !sys.power_on,
            (Route::PatchBoot(_), _) => {
                if let Some(t) = body
                    .pointer("/Boot/BootSourceOverrideTarget")
                    .and_then(Value::as_str)
                {
                    sys.boot_target = t.to_string();
                }
                if let Some(e) = body
                    .pointer("/Boot/BootSourceOverrideEnabled")
                    .and_then(Value::as_str)
                {
                    sys.boot_enabled = e.to_string();
                }
            }
            _ => {}
        }
        match route {
            Route::GetSystem(_) => (200, system_json(&system, sys), None),
            _ => (204, Value::Null, None),
        }
    };
    if mutating {
        if let Some(g) = generation {
            if max_seen.is_none_or(|m| g > m) {
                inner.max_generation.insert(system.clone(), g);
            }
        }
    }
    let event = BmcEvent {
        index: inner.events.len() as u64,
        time,
        system,
        method,
        path,
        action,
        mutating,
        member,
        generation,
        accepted: status < 300,
        status,
        reason,
    };
    if let Some(w) = inner.writer.as_mut() {
        if let Err(e) = w.append(&event) {
            eprintln!("fake bmc: {e:#}");
        }
    }
    inner.events.push(event);
    respond(status, reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::HttpClient;

    async fn bmc(mode: BmcMode, log: Option<&Path>) -> FakeBmc {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        FakeBmc::start(l, mode, RunClock::start(), Duration::ZERO, log).unwrap()
    }

    async fn reset(
        c: &HttpClient,
        b: &FakeBmc,
        sys: &str,
        member: &str,
        gen: u64,
        kind: &str,
    ) -> u16 {
        let g = gen.to_string();
        let body = json!({"ResetType": kind}).to_string().into_bytes();
        let path = format!("/redfish/v1/Systems/{sys}/Actions/ComputerSystem.Reset");
        c.request(
            b.addr(),
            "POST",
            &path,
            &[(MEMBER_HEADER, member), (GENERATION_HEADER, &g)],
            Some(body),
        )
        .await
        .unwrap()
        .status
    }

    #[tokio::test]
    async fn observe_mode_records_everything_and_tracks_power() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("bmc.jsonl");
        let b = bmc(BmcMode::Observe, Some(&log)).await;
        let c = HttpClient::default();
        assert_eq!(reset(&c, &b, "s1", "m1", 10, "On").await, 204);
        assert_eq!(
            reset(&c, &b, "s1", "m2", 7, "ForceOff").await,
            204,
            "token-blind"
        );
        let r = c
            .request(
                b.addr(),
                "GET",
                "/redfish/v1/Systems/s1",
                &[(MEMBER_HEADER, "m3")],
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.json().unwrap()["PowerState"], "Off");
        let patch = json!({"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}});
        let r = c
            .request(
                b.addr(),
                "PATCH",
                "/redfish/v1/Systems/s1",
                &[],
                Some(patch.to_string().into_bytes()),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 204);
        let ev = b.events();
        assert_eq!(ev.len(), 4);
        assert_eq!(
            (ev[1].member.as_deref(), ev[1].generation, ev[1].accepted),
            (Some("m2"), Some(7), true)
        );
        assert!(!ev[2].mutating);
        assert_eq!(ev[3].action.as_deref(), Some("boot:Pxe"));
        assert_eq!(crate::history::read_jsonl::<BmcEvent>(&log).unwrap(), ev);
        assert_eq!(b.power_on("s1"), Some(false));
    }

    #[tokio::test]
    async fn the_trap_catches_the_first_request_of_a_new_generation_and_holds_it() {
        let b = bmc(BmcMode::Observe, None).await;
        let c = HttpClient::default();
        assert_eq!(reset(&c, &b, "s1", "m1", 10, "On").await, 204);
        let hold = Duration::from_millis(300);
        let mut rx = b.arm_trap(hold);
        // Generation 10 on s1 is not new: the trap stays armed.
        assert_eq!(reset(&c, &b, "s1", "m1", 10, "ForceOff").await, 204);
        assert!(rx.try_recv().is_err());
        let started = std::time::Instant::now();
        let get = |g: &'static str| {
            let c = c.clone();
            let addr = b.addr();
            async move {
                c.request(
                    addr,
                    "GET",
                    "/redfish/v1/Systems/s1",
                    &[(MEMBER_HEADER, "m2"), (GENERATION_HEADER, g)],
                    None,
                )
                .await
                .unwrap()
            }
        };
        let r = get("11").await;
        assert!(started.elapsed() >= hold, "held: {:?}", started.elapsed());
        assert_eq!(r.json().unwrap()["PowerState"], "Off");
        let hit = rx.try_recv().unwrap();
        assert_eq!(
            (hit.member.as_str(), hit.system.as_str(), hit.generation),
            ("m2", "s1", 11)
        );
        // Sprung once: the next new generation is not held.
        let started = std::time::Instant::now();
        get("12").await;
        assert!(started.elapsed() < hold);
    }

    #[tokio::test]
    async fn fence_mode_refuses_older_generations_per_system() {
        let b = bmc(BmcMode::Fence, None).await;
        let c = HttpClient::default();
        assert_eq!(reset(&c, &b, "s1", "m1", 10, "On").await, 204);
        assert_eq!(reset(&c, &b, "s1", "m2", 7, "ForceOff").await, 409);
        assert_eq!(
            reset(&c, &b, "s1", "m1", 10, "ForceRestart").await,
            204,
            "same generation is fine"
        );
        assert_eq!(reset(&c, &b, "s2", "m2", 7, "On").await, 204, "per system");
        assert_eq!(reset(&c, &b, "s1", "m1", 11, "Bogus").await, 400);
        assert_eq!(b.power_on("s1"), Some(true));
        let ev = b.events();
        assert_eq!(
            (ev[1].accepted, ev[1].status, ev[1].reason.as_deref()),
            (false, 409, Some("stale-generation"))
        );
        let mut d = crate::checker::RunData::from_history(Vec::new());
        d.bmc = ev;
        use crate::checker::Checker;
        let r = crate::checker::FencingChecker.check(&d);
        assert_eq!(r.valid, crate::checker::Validity::Valid, "{r:?}");
        assert_eq!(r.stats["near-misses"], json!(1));
    }
}
