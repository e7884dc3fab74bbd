//! The rendered JSON of nodes in list answers, reused while a node is unchanged.
//!
//! A list of 1,000 nodes spent most of its time building and serialising the same JSON again.
//! An entry keeps a clone of the node's `Arc` it was rendered from: while the cache holds it,
//! the state cannot change that node in place (a change makes a new `Arc`), so pointer equality
//! means the same content. The entry is reused only for the same microversion, base URL,
//! field list and owning conductor (the `conductor` field); anything else renders afresh.
//! Bounded: past `MAX_ENTRIES` the cache is emptied (and refills from later lists).

use crate::version::Version;
use ferric_model::Node;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const MAX_ENTRIES: usize = 100_000;

/// What a rendering depends on besides the node itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ViewKey {
    pub ver: Version,
    pub base: Arc<str>,
    pub fields: Option<Vec<String>>,
}

struct Entry {
    node: Arc<Node>,
    view: Arc<ViewKey>,
    owner: Option<String>,
    json: Arc<str>,
}

#[derive(Default)]
pub(crate) struct NodeJsonCache {
    entries: Mutex<HashMap<Uuid, Entry>>,
}

impl NodeJsonCache {
    /// The JSON of each node (in order), from the cache where the entry is current, else from
    /// `render(node, owner)`, which is then kept.
    pub(crate) fn render_all<'r>(
        &self,
        nodes: &[Arc<Node>],
        view: &ViewKey,
        owner: impl Fn(&Node) -> Option<&'r str>,
        render: impl Fn(&Node, Option<&str>) -> String,
    ) -> Vec<Arc<str>> {
        let owners: Vec<Option<&'r str>> = nodes.iter().map(|n| owner(n)).collect();
        let mut out: Vec<Option<Arc<str>>> = vec![None; nodes.len()];
        {
            let entries = self.entries.lock().expect("node json cache");
            for (i, n) in nodes.iter().enumerate() {
                if let Some(e) = entries.get(&n.uuid) {
                    if Arc::ptr_eq(&e.node, n) && e.owner.as_deref() == owners[i] && *e.view == *view {
                        out[i] = Some(e.json.clone());
                    }
                }
            }
        }
        let mut fresh = Vec::new();
        let mut view_arc: Option<Arc<ViewKey>> = None;
        for (i, n) in nodes.iter().enumerate() {
            if out[i].is_none() {
                let json: Arc<str> = render(n, owners[i]).into();
                out[i] = Some(json.clone());
                let view = view_arc.get_or_insert_with(|| Arc::new(view.clone())).clone();
                fresh.push(Entry { node: n.clone(), view, owner: owners[i].map(str::to_string), json });
            }
        }
        if !fresh.is_empty() {
            let mut entries = self.entries.lock().expect("node json cache");
            if entries.len() + fresh.len() > MAX_ENTRIES {
                entries.clear();
            }
            for e in fresh {
                entries.insert(e.node.uuid, e);
            }
        }
        out.into_iter().map(|j| j.expect("every node rendered")).collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn key(ver: u32) -> ViewKey {
        ViewKey { ver: Version { minor: ver }, base: "http://h".into(), fields: Some(vec!["uuid".into()]) }
    }

    #[test]
    fn reuses_only_an_unchanged_node_in_the_same_view() {
        let cache = NodeJsonCache::default();
        let a = Arc::new(Node::new(Uuid::new_v4(), "fake-hardware", ferric_model::Timestamp(0)));
        let renders = Cell::new(0);
        let render = |n: &Node, owner: Option<&str>| {
            renders.set(renders.get() + 1);
            format!("{}:{}:{:?}", n.uuid, n.revision, owner)
        };
        let owner = |_: &Node| Some("m1");
        let first = cache.render_all(&[a.clone()], &key(90), owner, render);
        let again = cache.render_all(&[a.clone()], &key(90), owner, render);
        assert_eq!(renders.get(), 1, "the second list reuses the rendering");
        assert_eq!(first, again);
        // Another version, another owner: rendered again.
        cache.render_all(&[a.clone()], &key(91), owner, render);
        cache.render_all(&[a.clone()], &key(91), |_: &Node| Some("m2"), render);
        assert_eq!(renders.get(), 3);
        // A changed node is a new Arc (the cache's clone keeps the old one from being mutated
        // in place): rendered again, with the new content.
        let mut changed = a.clone();
        Arc::make_mut(&mut changed).revision = 7;
        assert!(!Arc::ptr_eq(&a, &changed));
        let out = cache.render_all(&[changed.clone()], &key(91), |_: &Node| Some("m2"), render);
        assert!(out[0].contains(":7:"), "{}", out[0]);
        assert_eq!(renders.get(), 4);
        assert_eq!(cache.len(), 1);
    }
}
