//! The userspace network: every peer link goes through the harness. One listener per member (the
//! address the member is known by to its peers) forwards to the member's real peer address; the
//! sending member is recognised by its source IP (each member has its own loopback address and
//! binds its outgoing peer sockets to it). Rules per directed link:
//! * `pass`;
//! * `blackhole`: bytes are read and thrown away, connections stay open (clients see timeouts);
//!   a connection that lost bytes is reset once the link is healed (its stream is corrupt);
//! * `reset`: existing connections are aborted with RST, new ones are reset on accept;
//! * `delay`: every chunk is held for the delay (order kept, no accumulation);
//! * `drop`: each chunk kills the connection with the given probability (a lossy link under
//!   TCP, seen from above).
//!
//! Rule changes are atomic: a whole table is swapped at once, like one `nft -f` transaction.

use super::Grudge;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Chunks held per direction before the proxy stops reading (back-pressure).
const MAX_QUEUED_CHUNKS: usize = 1024;
const CHUNK_BYTES: usize = 16 * 1024;
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum LinkRule {
    Pass,
    Blackhole,
    Reset,
    Delay {
        ms: u64,
    },
    /// Per chunk, the percentage of chances the connection dies.
    Drop {
        percent: u8,
    },
}

/// The rules in force: directed link (src, dst) → rule; absent links pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkTable {
    pub rules: HashMap<(usize, usize), LinkRule>,
}

impl LinkTable {
    pub fn rule(&self, src: Option<usize>, dst: usize) -> LinkRule {
        src.and_then(|s| self.rules.get(&(s, dst)).copied())
            .unwrap_or(LinkRule::Pass)
    }

    /// Every cut link of the grudge gets `rule`.
    pub fn from_grudge(grudge: &Grudge, rule: LinkRule) -> LinkTable {
        LinkTable {
            rules: grudge.cut.iter().map(|&l| (l, rule)).collect(),
        }
    }
}

/// One proxied member.
#[derive(Debug, Clone, Copy)]
pub struct ProxyRoute {
    pub member: usize,
    /// Where peers dial (the advertised peer address).
    pub listen: SocketAddr,
    /// The member's real peer listener.
    pub upstream: SocketAddr,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    unidentified: AtomicU64,
    resets: AtomicU64,
}

/// The running proxy; stops (and drops every proxied connection) when dropped.
pub struct Proxy {
    routes: Vec<ProxyRoute>,
    table: watch::Sender<Arc<LinkTable>>,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Proxy {
    /// Binds every route's listener. `sources` maps a source IP to the member that uses it.
    pub async fn start(
        routes: Vec<ProxyRoute>,
        sources: HashMap<IpAddr, usize>,
        seed: u64,
    ) -> anyhow::Result<Proxy> {
        let (table, _) = watch::channel(Arc::new(LinkTable::default()));
        let counters = Arc::new(Counters::default());
        let sources = Arc::new(sources);
        let mut tasks = Vec::new();
        let mut bound = Vec::new();
        for r in routes {
            let listener = TcpListener::bind(r.listen)
                .await
                .map_err(|e| anyhow::anyhow!("proxy bind {}: {e}", r.listen))?;
            let route = ProxyRoute {
                listen: listener.local_addr()?,
                ..r
            };
            bound.push(route);
            tasks.push(tokio::spawn(accept_loop(
                listener,
                route,
                sources.clone(),
                table.subscribe(),
                counters.clone(),
                seed,
            )));
        }
        Ok(Proxy {
            routes: bound,
            table,
            counters,
            tasks,
        })
    }

    /// Where peers must dial `member`.
    pub fn listen_addr(&self, member: usize) -> Option<SocketAddr> {
        self.routes
            .iter()
            .find(|r| r.member == member)
            .map(|r| r.listen)
    }

    /// Replaces every rule at once.
    pub fn set_table(&self, table: LinkTable) {
        self.table.send_replace(Arc::new(table));
    }

    pub fn apply_grudge(&self, grudge: &Grudge, rule: LinkRule) {
        self.set_table(LinkTable::from_grudge(grudge, rule));
    }

    /// Sets one link, keeping the others.
    pub fn set_link(&self, src: usize, dst: usize, rule: LinkRule) {
        let mut t = (**self.table.borrow()).clone();
        t.rules.insert((src, dst), rule);
        self.set_table(t);
    }

    pub fn heal(&self) {
        self.set_table(LinkTable::default());
    }

    pub fn table(&self) -> LinkTable {
        (**self.table.borrow()).clone()
    }

    /// (connections accepted, from an unknown source IP, reset by a rule).
    pub fn counters(&self) -> (u64, u64, u64) {
        (
            self.counters.accepted.load(Ordering::Relaxed),
            self.counters.unidentified.load(Ordering::Relaxed),
            self.counters.resets.load(Ordering::Relaxed),
        )
    }
}

async fn accept_loop(
    listener: TcpListener,
    route: ProxyRoute,
    sources: Arc<HashMap<IpAddr, usize>>,
    table: watch::Receiver<Arc<LinkTable>>,
    counters: Arc<Counters>,
    seed: u64,
) {
    let mut conns = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    loop {
        while conns.try_join_next().is_some() {}
        let Ok((client, peer)) = listener.accept().await else {
            continue;
        };
        n += 1;
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let src = sources.get(&peer.ip()).copied();
        if src.is_none() {
            counters.unidentified.fetch_add(1, Ordering::Relaxed);
        }
        let rng = ChaCha8Rng::seed_from_u64(seed ^ (route.member as u64) << 48 ^ n);
        conns.spawn(serve(
            client,
            src,
            route,
            table.clone(),
            counters.clone(),
            rng,
        ));
    }
}

fn abort_socket(s: &TcpStream) {
    let _ = s.set_zero_linger();
}

async fn serve(
    client: TcpStream,
    src: Option<usize>,
    route: ProxyRoute,
    table: watch::Receiver<Arc<LinkTable>>,
    counters: Arc<Counters>,
    mut rng: ChaCha8Rng,
) {
    let dst = route.member;
    let rule = table.borrow().rule(src, dst);
    let refuse = match rule {
        LinkRule::Reset => true,
        LinkRule::Drop { percent } => rng.gen_range(0..100) < percent,
        _ => false,
    };
    if refuse {
        counters.resets.fetch_add(1, Ordering::Relaxed);
        abort_socket(&client);
        return;
    }
    let upstream =
        match tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(route.upstream))
            .await
        {
            Ok(Ok(s)) => s,
            _ => {
                abort_socket(&client);
                return;
            }
        };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let (abort_tx, abort_rx) = watch::channel(false);
    let abort_tx = Arc::new(abort_tx);
    let rng2 = ChaCha8Rng::seed_from_u64(rng.gen());
    let up = pump(
        cr,
        uw,
        src.map(|s| (s, dst)),
        table.clone(),
        abort_tx.clone(),
        abort_rx.clone(),
        counters.clone(),
        rng,
    );
    let down = pump(
        ur,
        cw,
        src.map(|s| (dst, s)),
        table,
        abort_tx,
        abort_rx,
        counters,
        rng2,
    );
    tokio::join!(up, down);
}

/// Copies one direction under the link's rule until EOF, an error, or an abort (which resets
/// both sockets).
#[allow(clippy::too_many_arguments)]
async fn pump(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    link: Option<(usize, usize)>,
    mut table: watch::Receiver<Arc<LinkTable>>,
    abort_tx: Arc<watch::Sender<bool>>,
    mut abort_rx: watch::Receiver<bool>,
    counters: Arc<Counters>,
    mut rng: ChaCha8Rng,
) {
    let rule_of = |t: &LinkTable| link.map_or(LinkRule::Pass, |(s, d)| t.rule(Some(s), d));
    let mut queue: VecDeque<(Instant, Bytes)> = VecDeque::new();
    let mut tainted = false;
    let mut eof = false;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let aborted = loop {
        if *abort_rx.borrow() {
            break true;
        }
        let rule = rule_of(&table.borrow());
        if rule == LinkRule::Reset || (tainted && rule != LinkRule::Blackhole) {
            counters.resets.fetch_add(1, Ordering::Relaxed);
            abort_tx.send_replace(true);
            break true;
        }
        if eof && queue.is_empty() {
            let _ = writer.shutdown().await;
            break false;
        }
        let front = queue.front().map(|(t, _)| *t);
        tokio::select! {
            _ = abort_rx.changed() => {}
            r = table.changed() => if r.is_err() { break true },
            _ = tokio::time::sleep_until(front.unwrap_or_else(Instant::now)), if front.is_some() => {
                let (_, chunk) = queue.pop_front().expect("front exists");
                if writer.write_all(&chunk).await.is_err() {
                    abort_tx.send_replace(true);
                    break true;
                }
            }
            r = reader.read(&mut buf), if !eof && queue.len() < MAX_QUEUED_CHUNKS => match r {
                Ok(0) => eof = true,
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                    let now = Instant::now();
                    match rule_of(&table.borrow()) {
                        LinkRule::Pass => queue.push_back((now, chunk)),
                        LinkRule::Delay { ms } => queue.push_back((now + Duration::from_millis(ms), chunk)),
                        LinkRule::Blackhole => tainted = true,
                        LinkRule::Reset => {}
                        LinkRule::Drop { percent } => {
                            if rng.gen_range(0..100) < percent {
                                abort_tx.send_replace(true);
                                break true;
                            }
                            queue.push_back((now, chunk));
                        }
                    }
                }
                Err(_) => {
                    abort_tx.send_replace(true);
                    break true;
                }
            },
        }
    };
    if aborted {
        abort_socket(reader.as_ref());
        abort_socket(writer.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant as StdInstant;

    /// An echo server on `addr`.
    async fn echo(addr: &str) -> (SocketAddr, JoinHandle<()>) {
        let l = TcpListener::bind(addr).await.unwrap();
        let a = l.local_addr().unwrap();
        let t = tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (a, t)
    }

    /// Connects from `from` (a loopback IP) to `to`.
    async fn dial(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
        let s = tokio::net::TcpSocket::new_v4()?;
        s.bind(format!("{from}:0").parse().unwrap())?;
        s.connect(to).await
    }

    /// One round trip with a deadline: Ok(rtt) or Err(what happened).
    async fn ping(s: &mut TcpStream, wait: Duration) -> Result<Duration, String> {
        let t = StdInstant::now();
        s.write_all(b"ping")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut b = [0u8; 4];
        match tokio::time::timeout(wait, s.read_exact(&mut b)).await {
            Err(_) => Err("timeout".into()),
            Ok(Err(e)) => Err(format!("read: {:?}", e.kind())),
            Ok(Ok(_)) if &b == b"ping" => Ok(t.elapsed()),
            Ok(Ok(_)) => Err("garbled".into()),
        }
    }

    /// Member 0 is proxied at 127.0.0.30; members 1 and 2 dial from 127.0.0.31 / .32.
    async fn setup() -> (Proxy, SocketAddr, JoinHandle<()>) {
        let (up, t) = echo("127.0.0.40:0").await;
        let sources = HashMap::from([
            ("127.0.0.31".parse().unwrap(), 1),
            ("127.0.0.32".parse().unwrap(), 2),
        ]);
        let routes = vec![ProxyRoute {
            member: 0,
            listen: "127.0.0.30:0".parse().unwrap(),
            upstream: up,
        }];
        let p = Proxy::start(routes, sources, 7).await.unwrap();
        let addr = p.listen_addr(0).unwrap();
        (p, addr, t)
    }

    const WAIT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn pass_then_reset_kills_existing_and_new_connections_per_source() {
        let (p, addr, _t) = setup().await;
        let mut a = dial("127.0.0.31", addr).await.unwrap();
        let mut b = dial("127.0.0.32", addr).await.unwrap();
        ping(&mut a, WAIT).await.unwrap();
        ping(&mut b, WAIT).await.unwrap();
        p.set_link(1, 0, LinkRule::Reset);
        let e = ping(&mut a, WAIT).await.unwrap_err();
        assert!(
            e.contains("read") || e.contains("write"),
            "reset, not a timeout: {e}"
        );
        ping(&mut b, WAIT)
            .await
            .expect("member 2's link is untouched");
        let mut a2 = dial("127.0.0.31", addr).await.unwrap();
        assert!(ping(&mut a2, WAIT).await.is_err());
        p.heal();
        let mut a3 = dial("127.0.0.31", addr).await.unwrap();
        ping(&mut a3, WAIT).await.unwrap();
        assert_eq!(p.counters().1, 0, "every source identified");
    }

    #[tokio::test]
    async fn blackhole_times_out_then_resets_the_corrupted_connection_on_heal() {
        let (p, addr, _t) = setup().await;
        let mut a = dial("127.0.0.31", addr).await.unwrap();
        ping(&mut a, WAIT).await.unwrap();
        p.apply_grudge(&Grudge::one_way(1, 0), LinkRule::Blackhole);
        assert_eq!(ping(&mut a, WAIT).await.unwrap_err(), "timeout");
        p.heal();
        assert!(
            ping(&mut a, WAIT).await.is_err(),
            "bytes were lost: the connection must die"
        );
        let mut a2 = dial("127.0.0.31", addr).await.unwrap();
        ping(&mut a2, WAIT).await.unwrap();
    }

    #[tokio::test]
    async fn one_way_blackhole_of_the_reply_direction() {
        let (p, addr, _t) = setup().await;
        let mut a = dial("127.0.0.31", addr).await.unwrap();
        p.set_link(0, 1, LinkRule::Blackhole);
        assert_eq!(
            ping(&mut a, WAIT).await.unwrap_err(),
            "timeout",
            "replies are swallowed"
        );
    }

    #[tokio::test]
    async fn delay_adds_latency_each_way_without_accumulating() {
        let (p, addr, _t) = setup().await;
        let mut a = dial("127.0.0.31", addr).await.unwrap();
        p.set_link(1, 0, LinkRule::Delay { ms: 60 });
        p.set_link(0, 1, LinkRule::Delay { ms: 60 });
        let rtt = ping(&mut a, Duration::from_secs(2)).await.unwrap();
        assert!(rtt >= Duration::from_millis(120), "{rtt:?}");
        // Three pings in a row: each ~120 ms, not 120, 240, 360.
        let t = StdInstant::now();
        a.write_all(b"pingpingping").await.unwrap();
        let mut b = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(2), a.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn drop_everything_kills_connections() {
        let (p, addr, _t) = setup().await;
        let mut a = dial("127.0.0.31", addr).await.unwrap();
        ping(&mut a, WAIT).await.unwrap();
        p.set_link(1, 0, LinkRule::Drop { percent: 100 });
        assert!(ping(&mut a, WAIT).await.unwrap_err() != "timeout");
        p.set_link(1, 0, LinkRule::Drop { percent: 0 });
        let mut a2 = dial("127.0.0.31", addr).await.unwrap();
        ping(&mut a2, WAIT).await.unwrap();
    }
}
