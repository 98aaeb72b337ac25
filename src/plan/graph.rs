//! The plan's resource graph made explicit: dependency edges, a deterministic topological
//! order, a cycle check, and the critical path for a latency table (what stage 2's engine
//! needs to walk it concurrently). Kahn's algorithm over a few thousand nodes is a dozen lines,
//! so no graph crate is pulled in for it.

use super::resource::Resource;
use foldhash::{HashMap, HashMapExt};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("{from} depends on {to}, which is not in the plan")]
    Dangling { from: String, to: String },
    #[error("{from} references output {output} of {to}, which a {kind} does not have")]
    UnknownOutput {
        from: String,
        to: String,
        kind: String,
        output: String,
    },
    #[error("dependency cycle through: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// Resources (indexes into the slice given to [`Graph::new`]) and their dependency edges.
pub struct Graph<'a> {
    pub resources: &'a [Resource],
    /// `deps[i]` = the resources `i` needs first.
    pub deps: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    /// Builds the graph; every dependency and every reference must resolve.
    pub fn new(resources: &'a [Resource]) -> Result<Graph<'a>, GraphError> {
        let index: HashMap<&str, usize> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.address.as_str(), i))
            .collect();
        let mut deps = Vec::with_capacity(resources.len());
        for r in resources {
            let mut d = Vec::with_capacity(r.depends_on.len());
            for to in &r.depends_on {
                let j = *index.get(to.as_str()).ok_or_else(|| GraphError::Dangling {
                    from: r.address.clone(),
                    to: to.clone(),
                })?;
                d.push(j);
            }
            let mut refs = Vec::new();
            for v in r.attributes.values() {
                v.refs(&mut refs);
            }
            for rf in refs {
                // A plan read back from a file may carry a reference outside depends_on.
                let target = index
                    .get(rf.resource.as_str())
                    .map(|&j| &resources[j])
                    .ok_or_else(|| GraphError::Dangling {
                        from: r.address.clone(),
                        to: rf.resource.clone(),
                    })?;
                if !target.kind.outputs().contains(&rf.output.as_str()) {
                    return Err(GraphError::UnknownOutput {
                        from: r.address.clone(),
                        to: rf.resource.clone(),
                        kind: target.kind.to_string(),
                        output: rf.output.clone(),
                    });
                }
            }
            deps.push(d);
        }
        Ok(Graph { resources, deps })
    }

    /// A topological order (dependencies first); among ready resources the smallest index goes
    /// first, so the order is deterministic.
    pub fn topo_order(&self) -> Result<Vec<usize>, GraphError> {
        let n = self.resources.len();
        let mut indegree = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, d) in self.deps.iter().enumerate() {
            indegree[i] = d.len();
            for &j in d {
                dependents[j].push(i);
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(i)) = ready.pop() {
            order.push(i);
            for &k in &dependents[i] {
                indegree[k] -= 1;
                if indegree[k] == 0 {
                    ready.push(Reverse(k));
                }
            }
        }
        if order.len() < n {
            return Err(GraphError::Cycle(self.find_cycle(&indegree)));
        }
        Ok(order)
    }

    /// Follows unresolved dependencies from a node left in the cycle until one repeats.
    fn find_cycle(&self, indegree: &[usize]) -> Vec<String> {
        let Some(start) = (0..indegree.len()).find(|&i| indegree[i] > 0) else {
            return Vec::new();
        };
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut path = Vec::new();
        let mut cur = start;
        while !seen.contains_key(&cur) {
            seen.insert(cur, path.len());
            path.push(cur);
            match self.deps[cur].iter().find(|&&j| indegree[j] > 0) {
                Some(&j) => cur = j,
                None => break,
            }
        }
        let from = seen.get(&cur).copied().unwrap_or(0);
        let mut cycle: Vec<String> = path[from..]
            .iter()
            .map(|&i| self.resources[i].address.clone())
            .collect();
        cycle.push(self.resources[cur].address.clone());
        cycle
    }

    /// The longest chain of dependent work, given each resource's duration (e.g. seconds from a
    /// latency table): its total and its resources, first to last.
    pub fn critical_path(
        &self,
        duration: impl Fn(&Resource) -> u64,
    ) -> Result<(u64, Vec<String>), GraphError> {
        let order = self.topo_order()?;
        let n = self.resources.len();
        let mut finish = vec![0u64; n];
        let mut via: Vec<Option<usize>> = vec![None; n];
        for &i in &order {
            let (start, prev) = self.deps[i]
                .iter()
                .map(|&j| (finish[j], Some(j)))
                .max_by_key(|(f, _)| *f)
                .unwrap_or((0, None));
            finish[i] = start + duration(&self.resources[i]);
            via[i] = prev;
        }
        let Some(end) = (0..n).max_by_key(|&i| (finish[i], Reverse(i))) else {
            return Ok((0, Vec::new()));
        };
        let mut path = vec![end];
        let mut cur = end;
        while let Some(p) = via[cur] {
            path.push(p);
            cur = p;
        }
        path.reverse();
        Ok((
            finish[end],
            path.into_iter()
                .map(|i| self.resources[i].address.clone())
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::resource::{Builder, Kind, Value};

    fn r(addr: &str, deps: &[&str]) -> Resource {
        let (kind, key) = addr.rsplit_once('.').unwrap();
        let mut b = Builder::new(Kind::parse(kind).unwrap(), key, key.into(), "r");
        for d in deps {
            b = b.attr(d, Value::r(d, "id"));
        }
        b.build()
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        let rs = vec![
            r("gcp.vpn_tunnel.t", &["gcp.router.r", "gcp.vpn_gateway.g"]),
            r("gcp.router.r", &[]),
            r("gcp.vpn_gateway.g", &[]),
        ];
        let g = Graph::new(&rs).unwrap();
        assert_eq!(g.topo_order().unwrap(), vec![1, 2, 0]);
    }

    #[test]
    fn a_cycle_is_reported_with_its_members() {
        let rs = vec![
            r("gcp.router.a", &["gcp.router.b"]),
            r("gcp.router.b", &["gcp.router.a"]),
        ];
        let e = Graph::new(&rs).unwrap().topo_order().unwrap_err();
        let GraphError::Cycle(c) = e else { panic!() };
        assert!(c.contains(&"gcp.router.a".to_string()) && c.contains(&"gcp.router.b".to_string()));
    }

    #[test]
    fn a_dependency_outside_the_plan_is_refused() {
        let rs = vec![r("gcp.router.a", &["gcp.router.zz"])];
        assert!(matches!(Graph::new(&rs), Err(GraphError::Dangling { .. })));
    }

    #[test]
    fn a_reference_to_an_output_the_kind_lacks_is_refused() {
        let rs = vec![
            r("gcp.router.a", &[]),
            Builder::new(Kind::GcpVpnTunnel, "t", "t".into(), "r")
                .attr("x", Value::r("gcp.router.a", "interface0_ip"))
                .build(),
        ];
        assert!(matches!(
            Graph::new(&rs),
            Err(GraphError::UnknownOutput { .. })
        ));
    }

    #[test]
    fn critical_path_follows_the_slowest_chain() {
        let rs = vec![
            r("azure.public_ip.p", &[]),
            r("azure.vpn_gateway.g", &["azure.public_ip.p"]),
            r(
                "azure.connection.c",
                &["azure.vpn_gateway.g", "azure.local_network_gateway.l"],
            ),
            r("azure.local_network_gateway.l", &[]),
        ];
        let g = Graph::new(&rs).unwrap();
        let (total, path) = g
            .critical_path(|r| {
                if r.kind == Kind::AzureVpnGateway {
                    2100
                } else {
                    10
                }
            })
            .unwrap();
        assert_eq!(total, 2120);
        assert_eq!(
            path,
            vec![
                "azure.public_ip.p",
                "azure.vpn_gateway.g",
                "azure.connection.c"
            ]
        );
    }
}
