//! Delivery of power-update events (the seed change: Ironic tells Nova when an instance's node
//! was powered on or off). Events are created by the state machine in the same command as the
//! power change and stay in the replicated state until delivered, so no crash or take-over loses
//! one. The leader delivers: to Nova's `os-server-external-events` and to webhooks, with a
//! timeout per call, exponential back-off, and a bound on attempts after which the event is kept
//! as failed (visible in `/metrics` and `GET /cluster/events`).

use crate::clock::Clock;
use anyhow::bail;
use ferric_model::{Command, PendingEvent};
use ferric_raft::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Nova's compute endpoint, e.g. `http://nova:8774/v2.1`; events go to
    /// `<url>/os-server-external-events`.
    pub nova_url: Option<String>,
    /// Extra headers for Nova (e.g. a token: `{"X-Auth-Token" = "..."}`); never logged.
    pub nova_headers: std::collections::BTreeMap<String, String>,
    /// URLs that receive every event as JSON.
    pub webhooks: Vec<String>,
    pub timeout: f64,
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt up to `max_backoff`.
    pub backoff: f64,
    pub max_backoff: f64,
    /// How often the leader looks for pending events.
    pub interval: f64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            nova_url: None,
            nova_headers: Default::default(),
            webhooks: Vec::new(),
            timeout: 10.0,
            max_attempts: 10,
            backoff: 1.0,
            max_backoff: 300.0,
            interval: 1.0,
        }
    }
}

impl EventsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        for u in self.nova_url.iter().chain(self.webhooks.iter()) {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                bail!("events: {u:?} is not an http(s) URL");
            }
        }
        if self.max_attempts == 0 || self.timeout <= 0.0 || self.interval <= 0.0 {
            bail!("events: max_attempts, timeout and interval must be positive");
        }
        Ok(())
    }

    fn enabled(&self) -> bool {
        self.nova_url.is_some() || !self.webhooks.is_empty()
    }
}

#[derive(Default)]
pub struct EventMetrics {
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
}

/// The body Nova expects.
pub fn nova_body(ev: &PendingEvent) -> serde_json::Value {
    serde_json::json!({"events": [{"name": "power-update", "server_uuid": ev.instance_uuid, "tag": ev.tag}]})
}

/// The body webhooks receive.
pub fn webhook_body(ev: &PendingEvent) -> serde_json::Value {
    serde_json::json!({
        "event": "power-update",
        "id": ev.id,
        "node_uuid": ev.node_uuid,
        "instance_uuid": ev.instance_uuid,
        "tag": ev.tag,
        "created_at": ev.created_at.to_iso8601(),
    })
}

/// A URL without credentials or query (which may carry them), for messages and logs.
pub fn redact_url(u: &str) -> String {
    let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
    let rest = rest.split_once('@').map(|(_, r)| r).unwrap_or(rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    if scheme.is_empty() {
        rest.to_string()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// When an event is due for its next attempt.
pub fn due(ev: &PendingEvent, cfg: &EventsConfig, now: ferric_model::Timestamp) -> bool {
    if ev.failed {
        return false;
    }
    match ev.last_attempt_at {
        None => true,
        Some(t) => {
            let delay = (cfg.backoff * 2f64.powi(ev.attempts.saturating_sub(1).min(30) as i32)).min(cfg.max_backoff);
            now.secs_since(t) >= delay
        }
    }
}

pub struct EventSender {
    cfg: EventsConfig,
    cluster: Arc<Cluster>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    pub metrics: EventMetrics,
}

impl EventSender {
    pub fn new(cfg: EventsConfig, cluster: Arc<Cluster>, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<EventSender>> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(cfg.timeout))
            .connect_timeout(Duration::from_secs_f64(cfg.timeout))
            .build()?;
        Ok(Arc::new(EventSender { cfg, cluster, clock, http, metrics: EventMetrics::default() }))
    }

    pub fn start(self: &Arc<Self>, cancel: CancellationToken) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(me.cfg.interval));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if me.cluster.node().map(|n| n.is_leader()).unwrap_or(false) {
                    me.round().await;
                }
            }
        });
    }

    /// One delivery round (leader only): every due event, oldest first, at most 256 per round.
    /// With no Nova endpoint and no webhook, events are dropped (acknowledged) rather than kept;
    /// failed events beyond the newest `MAX_FAILED_KEPT` are dropped too, so the state stays
    /// bounded.
    pub async fn round(&self) {
        const MAX_FAILED_KEPT: usize = 1000;
        let now = self.clock.now();
        let drop: Vec<u64> = self.cluster.read_state(|s| {
            if !self.cfg.enabled() {
                return s.events.keys().take(1024).copied().collect();
            }
            let failed: Vec<u64> = s.events.values().filter(|e| e.failed).map(|e| e.id).collect();
            failed.iter().take(failed.len().saturating_sub(MAX_FAILED_KEPT)).copied().collect()
        });
        for id in drop {
            let cmd = Command::AckEvent { id, delivered: true, error: None, max_attempts: self.cfg.max_attempts, now };
            let _ = self.cluster.propose(cmd).await;
        }
        if !self.cfg.enabled() {
            return;
        }
        let due_events: Vec<PendingEvent> = self
            .cluster
            .read_state(|s| s.events.values().filter(|e| due(e, &self.cfg, now)).take(256).cloned().collect());
        for ev in due_events {
            let result = self.deliver(&ev).await;
            let (delivered, error) = match result {
                Ok(()) => {
                    self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                    (true, None)
                }
                Err(e) => {
                    self.metrics.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(event = ev.id, node = %ev.node_uuid, attempt = ev.attempts + 1, error = %e, "power-update delivery failed");
                    (false, Some(e))
                }
            };
            let cmd = Command::AckEvent { id: ev.id, delivered, error, max_attempts: self.cfg.max_attempts, now: self.clock.now() };
            if let Err(e) = self.cluster.propose(cmd).await {
                tracing::warn!(event = ev.id, error = %e, "recording an event delivery failed");
            }
        }
    }

    async fn deliver(&self, ev: &PendingEvent) -> Result<(), String> {
        if let Some(nova) = &self.cfg.nova_url {
            let url = format!("{}/os-server-external-events", nova.trim_end_matches('/'));
            let mut req = self.http.post(&url).header("X-OpenStack-Nova-API-Version", "2.76").json(&nova_body(ev));
            for (k, v) in &self.cfg.nova_headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.map_err(|e| format!("nova: {}", e.without_url()))?;
            if !resp.status().is_success() {
                return Err(format!("nova answered {}", resp.status()));
            }
        }
        for hook in &self.cfg.webhooks {
            let resp = self.http.post(hook).json(&webhook_body(ev)).send().await.map_err(|e| format!("webhook: {}", e.without_url()))?;
            if !resp.status().is_success() {
                return Err(format!("webhook {} answered {}", redact_url(hook), resp.status()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferric_model::Timestamp;

    fn ev(attempts: u32, last: Option<i64>) -> PendingEvent {
        PendingEvent {
            id: 1,
            node_uuid: uuid::Uuid::nil(),
            instance_uuid: "i".into(),
            tag: "POWER_ON".into(),
            created_at: Timestamp(0),
            attempts,
            last_error: None,
            last_attempt_at: last.map(|s| Timestamp(s * 1_000_000)),
            failed: false,
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let cfg = EventsConfig { backoff: 1.0, max_backoff: 8.0, ..Default::default() };
        assert!(due(&ev(0, None), &cfg, Timestamp(0)));
        assert!(!due(&ev(1, Some(10)), &cfg, Timestamp((10 * 1_000_000) + 500_000)));
        assert!(due(&ev(1, Some(10)), &cfg, Timestamp(11 * 1_000_000)));
        assert!(!due(&ev(3, Some(10)), &cfg, Timestamp(13 * 1_000_000)));
        assert!(due(&ev(3, Some(10)), &cfg, Timestamp(14 * 1_000_000)));
        assert!(due(&ev(20, Some(10)), &cfg, Timestamp(18 * 1_000_000)), "capped at max_backoff");
        let mut failed = ev(0, None);
        failed.failed = true;
        assert!(!due(&failed, &cfg, Timestamp(1_000_000_000)));
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(redact_url("https://user:pw@hooks.example/x?token=abc"), "https://hooks.example/x");
        assert_eq!(redact_url("http://h:1/p"), "http://h:1/p");
    }

    #[test]
    fn nova_body_is_a_power_update() {
        let b = nova_body(&ev(0, None));
        assert_eq!(b["events"][0]["name"], "power-update");
        assert_eq!(b["events"][0]["tag"], "POWER_ON");
        assert_eq!(b["events"][0]["server_uuid"], "i");
    }
}
