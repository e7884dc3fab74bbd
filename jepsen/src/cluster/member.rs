//! Where each member lives: its name, API and peer addresses, the peer address it is known by
//! (the proxy's, in proxy mode), data dir and log.
//!
//! Proxy mode: member `i` owns loopback IP `127.0.0.<11+i>`; API on `base+10i`, real peer
//! listener on `base+10i+1`, and the harness's proxy for it on `base+10i+2` — the address given
//! to the others (`--advertise-peer`, `--join`, `POST /cluster/members`). The member must bind its
//! outgoing peer sockets to its own IP so the proxy can tell who is sending.
//! Netns mode: member `i` is `10.77.0.<i+1>` in its own namespace; API `:6385`, peer `:6386`,
//! advertised as is (partitions are nft rules, no proxy).

use crate::nemesis::netns::NetnsNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub index: usize,
    pub name: String,
    pub api: SocketAddr,
    /// Where the member listens for peers.
    pub peer: SocketAddr,
    /// Where peers reach it (proxy mode: the proxy).
    pub advertised_peer: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// Network namespace to run in (netns mode).
    pub netns: Option<PathBuf>,
    /// libfaketime timestamp file (wall-clock skew), when clock faults are on.
    pub faketime_file: Option<PathBuf>,
    /// The test clock hook's offset file (`FERRIC_TEST_CLOCK_OFFSET_FILE`).
    pub clock_offset_file: PathBuf,
}

impl MemberSpec {
    pub fn source_ip(&self) -> IpAddr {
        self.peer.ip()
    }
}

/// Member addresses for proxy mode.
pub fn proxy_plan(n: usize, base_port: u16, run_dir: &std::path::Path) -> Vec<MemberSpec> {
    (0..n)
        .map(|i| {
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11 + i as u8));
            let port = |k: u16| base_port + 10 * i as u16 + k;
            spec(
                i,
                run_dir,
                SocketAddr::new(ip, port(0)),
                SocketAddr::new(ip, port(1)),
                SocketAddr::new(ip, port(2)),
                None,
            )
        })
        .collect()
}

/// Member addresses for netns mode.
pub fn netns_plan(net: &NetnsNet, run_dir: &std::path::Path) -> Vec<MemberSpec> {
    (0..net.members)
        .map(|i| {
            let ip = IpAddr::V4(NetnsNet::member_ip(i));
            let peer = SocketAddr::new(ip, 6386);
            spec(
                i,
                run_dir,
                SocketAddr::new(ip, 6385),
                peer,
                peer,
                Some(NetnsNet::ns_path(&net.member_ns(i))),
            )
        })
        .collect()
}

fn spec(
    i: usize,
    run_dir: &std::path::Path,
    api: SocketAddr,
    peer: SocketAddr,
    advertised_peer: SocketAddr,
    netns: Option<PathBuf>,
) -> MemberSpec {
    let name = format!("m{}", i + 1);
    MemberSpec {
        index: i,
        data_dir: run_dir.join("data").join(&name),
        log: run_dir.join("logs").join(format!("{name}.log")),
        clock_offset_file: run_dir.join("clock").join(format!("{name}.offset-ms")),
        faketime_file: None,
        name,
        api,
        peer,
        advertised_peer,
        netns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_plan_gives_each_member_its_own_ip_and_a_proxied_peer_address() {
        let p = proxy_plan(3, 27100, std::path::Path::new("/tmp/run"));
        assert_eq!(p[1].name, "m2");
        assert_eq!(p[1].api.to_string(), "127.0.0.12:27110");
        assert_eq!(p[1].peer.to_string(), "127.0.0.12:27111");
        assert_eq!(p[1].advertised_peer.to_string(), "127.0.0.12:27112");
        assert_eq!(p[2].log, PathBuf::from("/tmp/run/logs/m3.log"));
    }
}
