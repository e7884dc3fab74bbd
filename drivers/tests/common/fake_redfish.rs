//! A tiny Redfish "BMC" on loopback for what the emulator cannot do: record request headers,
//! never apply a reset, answer garbage, answer forever, hang, fail with 500s.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A one-system BMC; resets apply at once.
    Good,
    /// Resets are accepted (204) and never applied.
    NeverApplies,
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers 200 with an endless body.
    Endless,
    /// Accepts the connection, reads the request, never answers.
    Hang,
    /// Answers 500 to everything.
    ServerError,
    /// Sends half a response and closes.
    CloseMidway,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub struct FakeRedfish {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub power: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeRedfish {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeRedfish {
    pub async fn start(mode: Mode) -> FakeRedfish {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let power = Arc::new(Mutex::new("Off".to_string()));
        let (r2, p2) = (requests.clone(), power.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                let (r3, p3) = (r2.clone(), p2.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(120), serve(s, mode, r3, p3)).await;
                });
            }
        });
        FakeRedfish { port, requests, power, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request(s: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Recorded { method, path, headers, body: String::from_utf8_lossy(&body).to_string() })
}

async fn respond(s: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let msg =
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(msg.as_bytes()).await
}

fn system(power: &str) -> Value {
    json!({
        "@odata.id": "/redfish/v1/Systems/1",
        "Id": "1",
        "PowerState": power,
        "Boot": {"BootSourceOverrideTarget": "Hdd", "BootSourceOverrideEnabled": "Once"},
        "Actions": {"#ComputerSystem.Reset": {"target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"}}
    })
}

async fn serve(mut s: TcpStream, mode: Mode, rec: Arc<Mutex<Vec<Recorded>>>, power: Arc<Mutex<String>>) {
    loop {
        let Some(req) = read_request(&mut s).await else { return };
        rec.lock().unwrap().push(req.clone());
        let r = match mode {
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(600)).await;
                return;
            }
            Mode::ServerError => {
                respond(&mut s, "500 Internal Server Error", r#"{"error": {"message": "boom"}}"#).await
            }
            Mode::Garbage => respond(&mut s, "200 OK", "<html>this is not json").await,
            Mode::CloseMidway => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"PowerSt").await;
                return;
            }
            Mode::Endless => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[").await;
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..10_000 {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                return;
            }
            Mode::Good | Mode::NeverApplies => match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/redfish/v1/Systems") => {
                    respond(&mut s, "200 OK", &json!({"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]}).to_string())
                        .await
                }
                ("GET", "/redfish/v1/Systems/1") => {
                    let p = power.lock().unwrap().clone();
                    respond(&mut s, "200 OK", &system(&p).to_string()).await
                }
                ("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset") => {
                    if mode == Mode::Good {
                        let v: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
                        let new = match v["ResetType"].as_str() {
                            Some("On") | Some("ForceOn") | Some("ForceRestart") | Some("GracefulRestart") => "On",
                            Some("ForceOff") | Some("GracefulShutdown") => "Off",
                            _ => "",
                        };
                        if !new.is_empty() {
                            *power.lock().unwrap() = new.to_string();
                        }
                    }
                    respond(&mut s, "204 No Content", "").await
                }
                ("PATCH", "/redfish/v1/Systems/1") => respond(&mut s, "204 No Content", "").await,
                _ => respond(&mut s, "404 Not Found", r#"{"error": {"message": "no such resource"}}"#).await,
            },
        };
        if r.is_err() {
            return;
        }
    }
}
