//! The network under test, whichever mode: the userspace proxy or namespaces + nft.

use super::netns::NetnsNet;
use super::{Grudge, LinkRule, Proxy};
use anyhow::{bail, Result};

pub enum Net {
    Proxy(Proxy),
    Netns(NetnsNet),
}

impl Net {
    pub fn mode(&self) -> &'static str {
        match self {
            Net::Proxy(_) => "proxy",
            Net::Netns(_) => "netns",
        }
    }

    pub fn partition(&self, grudge: &Grudge, rule: LinkRule) -> Result<()> {
        match self {
            Net::Proxy(p) => {
                p.apply_grudge(grudge, rule);
                Ok(())
            }
            // nft drops silently: a blackhole; resets are a proxy-mode refinement.
            Net::Netns(n) => n.apply(grudge, &[]),
        }
    }

    pub fn delay(&self, src: usize, dst: usize, ms: u64) -> Result<()> {
        match self {
            Net::Proxy(p) => {
                p.set_link(src, dst, LinkRule::Delay { ms });
                Ok(())
            }
            Net::Netns(_) => {
                bail!("delay needs tc netem, absent from this kernel: use --net proxy")
            }
        }
    }

    pub fn loss(&self, src: usize, dst: usize, percent: u8) -> Result<()> {
        match self {
            Net::Proxy(p) => {
                p.set_link(src, dst, LinkRule::Drop { percent });
                Ok(())
            }
            Net::Netns(n) => n.apply(&Grudge::none(), &[(src, dst, percent)]),
        }
    }

    pub fn heal(&self) -> Result<()> {
        match self {
            Net::Proxy(p) => {
                p.heal();
                Ok(())
            }
            Net::Netns(n) => n.heal(),
        }
    }
}
