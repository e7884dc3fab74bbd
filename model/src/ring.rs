//! The hash ring: which conductor owns a node, derived from committed state only.
//!
//! One consistent-hash ring per (hardware type, conductor group), over the conductors that are
//! members of the committed membership, registered, online, and enable that hardware type. Each
//! conductor gets `2^partition_exponent` points (Ironic's `hash_partition_exponent`). The hash is
//! written out here (FNV-1a then a SplitMix64 finaliser) so that every member, whatever its
//! build, computes the same ring at the same applied index.

use crate::state::State;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A stable 64-bit hash of bytes.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // SplitMix64 finaliser: spreads FNV's weak low bits.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[derive(Debug, Clone, Default)]
pub struct HashRing {
    /// The ring version: log index at which its inputs last changed.
    pub version: u64,
    rings: BTreeMap<(String, String), Vec<(u64, String)>>,
}

impl HashRing {
    /// Builds the ring from committed state.
    pub fn build(state: &State, partition_exponent: u32) -> HashRing {
        let points = 1u64 << partition_exponent.min(10);
        let mut rings: BTreeMap<(String, String), Vec<(u64, String)>> = BTreeMap::new();
        for c in state.conductors.values() {
            if !c.online || !state.meta.members.contains_key(&c.hostname) {
                continue;
            }
            for ht in &c.hardware_types {
                let ring = rings.entry((ht.name.clone(), c.conductor_group.clone())).or_default();
                for i in 0..points {
                    let key = format!("{}-{}", c.hostname, i);
                    ring.push((stable_hash(key.as_bytes()), c.hostname.clone()));
                }
            }
        }
        for ring in rings.values_mut() {
            ring.sort();
        }
        HashRing { version: state.meta.ring_version, rings }
    }

    /// The conductor that owns `node` of hardware type `driver` in `group`.
    pub fn owner(&self, driver: &str, group: &str, node: Uuid) -> Option<&str> {
        let ring = self.rings.get(&(driver.to_string(), group.to_string()))?;
        if ring.is_empty() {
            return None;
        }
        let h = stable_hash(node.as_bytes());
        let i = ring.partition_point(|(p, _)| *p < h);
        let (_, host) = if i == ring.len() { &ring[0] } else { &ring[i] };
        Some(host.as_str())
    }

    /// Conductors (sorted) that serve a hardware type in any group.
    pub fn hosts_for_driver(&self, driver: &str) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .rings
            .iter()
            .filter(|((d, _), _)| d == driver)
            .flat_map(|(_, r)| r.iter().map(|(_, h)| h.clone()))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conductor::{ConductorRecord, HardwareTypeInfo};
    use crate::state::Member;
    use crate::time::Timestamp;

    fn state_with(hosts: &[&str]) -> State {
        let mut st = State::default();
        for (i, h) in hosts.iter().enumerate() {
            st.meta.members.insert(
                h.to_string(),
                Member { id: i as u64 + 1, name: h.to_string(), peer_addr: String::new(), api_addr: String::new(), voter: true },
            );
            st.conductors.insert(
                h.to_string(),
                ConductorRecord {
                    hostname: h.to_string(),
                    conductor_group: String::new(),
                    hardware_types: vec![HardwareTypeInfo { name: "fake-hardware".into(), interfaces: Default::default() }],
                    online: true,
                    created_at: Timestamp(0),
                    updated_at: Timestamp(0),
                    heartbeat_seq: 0,
                    schema: 1,
                    peer_addr: String::new(),
                    api_addr: String::new(),
                },
            );
        }
        st
    }

    #[test]
    fn spreads_and_moves_little() {
        let st3 = state_with(&["a", "b", "c"]);
        let ring3 = HashRing::build(&st3, 5);
        let mut counts = BTreeMap::new();
        let nodes: Vec<Uuid> = (0..3000u128).map(Uuid::from_u128).collect();
        for n in &nodes {
            *counts.entry(ring3.owner("fake-hardware", "", *n).unwrap().to_string()).or_insert(0) += 1;
        }
        for (_, c) in &counts {
            assert!(*c > 500, "uneven spread: {counts:?}");
        }
        // Taking one host offline moves only its nodes.
        let mut st2 = st3.clone();
        st2.conductors.get_mut("c").unwrap().online = false;
        let ring2 = HashRing::build(&st2, 5);
        for n in &nodes {
            let before = ring3.owner("fake-hardware", "", *n).unwrap();
            let after = ring2.owner("fake-hardware", "", *n).unwrap();
            if before != "c" {
                assert_eq!(before, after);
            } else {
                assert_ne!(after, "c");
            }
        }
        assert!(ring3.owner("ipmi", "", nodes[0]).is_none());
    }

    #[test]
    fn hash_is_stable() {
        // Pinned: a change here would split a cluster during a rolling upgrade.
        assert_eq!(stable_hash(b"ferric"), 0x1aeb_8cab_b3ff_7267);
        assert_eq!(stable_hash(b""), 0xf52a_15e9_a9b5_e89b);
    }
}

