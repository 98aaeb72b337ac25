//! How a stored resource is rendered into its API body: the common output fields and each
//! kind's own.

use super::*;

/// Per-kind output-only fields added when a resource is rendered.
pub trait Render: Kind {
    fn extra(
        &self,
        _c: &GcpCloud,
        _path: &str,
        _meta: &Meta,
        _net: &NetState,
        _now: u64,
        _m: &mut Map<String, Value>,
    ) {
    }
}

impl Render for Network {
    fn extra(
        &self,
        c: &GcpCloud,
        path: &str,
        _meta: &Meta,
        _net: &NetState,
        _now: u64,
        m: &mut Map<String, Value>,
    ) {
        let subnets: Vec<&String> = c
            .subnetworks
            .iter()
            .filter(|(_, s)| s.body.network == path)
            .map(|(p, _)| p)
            .collect();
        m.insert("subnetworks".into(), json!(subnets));
    }
}
impl Render for Subnetwork {}
impl Render for VpnGateway {}
impl Render for ExternalVpnGateway {}
impl Render for Router {}
impl Render for Address {
    fn extra(
        &self,
        c: &GcpCloud,
        _path: &str,
        meta: &Meta,
        _net: &NetState,
        now: u64,
        m: &mut Map<String, Value>,
    ) {
        let users: Vec<&String> = c
            .forwarding_rules
            .iter()
            .filter(|(_, f)| f.body.ip_address.is_some() && f.body.ip_address == self.address)
            .map(|(p, _)| p)
            .collect();
        let status = if now < meta.ready_ms {
            "RESERVING"
        } else if users.is_empty() {
            "RESERVED"
        } else {
            "IN_USE"
        };
        m.insert("status".into(), json!(status));
        if !users.is_empty() {
            m.insert("users".into(), json!(users));
        }
    }
}
impl Render for ForwardingRule {}
impl Render for TargetVpnGateway {
    fn extra(
        &self,
        c: &GcpCloud,
        path: &str,
        meta: &Meta,
        _net: &NetState,
        now: u64,
        m: &mut Map<String, Value>,
    ) {
        let rules: Vec<&String> = c
            .forwarding_rules
            .iter()
            .filter(|(_, f)| f.body.target.as_deref() == Some(path))
            .map(|(p, _)| p)
            .collect();
        let tunnels: Vec<&String> = c
            .vpn_tunnels
            .iter()
            .filter(|(_, t)| t.body.target_vpn_gateway.as_deref() == Some(path))
            .map(|(p, _)| p)
            .collect();
        if !rules.is_empty() {
            m.insert("forwardingRules".into(), json!(rules));
        }
        if !tunnels.is_empty() {
            m.insert("tunnels".into(), json!(tunnels));
        }
        let status = if now < meta.ready_ms {
            "CREATING"
        } else {
            "READY"
        };
        m.insert("status".into(), json!(status));
    }
}
impl Render for VpnTunnel {
    fn extra(
        &self,
        c: &GcpCloud,
        path: &str,
        meta: &Meta,
        net: &NetState,
        now: u64,
        m: &mut Map<String, Value>,
    ) {
        if self.shared_secret.is_some() {
            m.insert("sharedSecret".into(), json!("*************"));
        }
        if self.vpn_gateway.is_some() {
            if let Some(ip) = physics::tunnel_peer_ip(c, self) {
                m.insert("peerIp".into(), json!(ip.to_string()));
            }
            m.insert("localTrafficSelector".into(), json!(["0.0.0.0/0"]));
            m.insert("remoteTrafficSelector".into(), json!(["0.0.0.0/0"]));
        }
        let (status, detail) = physics::tunnel_status(c, path, self, meta, net, now);
        m.insert("status".into(), json!(status));
        m.insert("detailedStatus".into(), json!(detail));
    }
}
impl Render for Route {
    fn extra(
        &self,
        c: &GcpCloud,
        _path: &str,
        _meta: &Meta,
        net: &NetState,
        _now: u64,
        m: &mut Map<String, Value>,
    ) {
        m.insert("routeType".into(), json!("STATIC"));
        if let Some(t) = &self.next_hop_vpn_tunnel {
            if !physics::tunnel_up(c, t, net) {
                m.insert(
                    "warnings".into(),
                    json!([{"code": "NEXT_HOP_NOT_RUNNING",
                        "message": format!("Next hop VPN tunnel '{}' is not established.", wire::last(t)),
                        "data": [{"key": "next_hop_vpn_tunnel", "value": wire::last(t)}]}]),
                );
            }
        }
    }
}
impl Render for Firewall {}

/// The API body of one stored resource.
pub fn render<T: Render>(
    c: &GcpCloud,
    path: &str,
    r: &Res<T>,
    net: &NetState,
    now: u64,
    base: &str,
) -> Value {
    let mut v = serde_json::to_value(&r.body).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("kind".into(), json!(T::KIND));
        m.insert("id".into(), json!(r.meta.id.to_string()));
        m.insert(
            "creationTimestamp".into(),
            json!(timestamp(r.meta.created_ms)),
        );
        m.insert("selfLink".into(), json!(path));
        if T::REGIONAL {
            if let Some(region) = wire::region_of(path) {
                let project = path.split('/').nth(1).unwrap_or_default();
                m.insert(
                    "region".into(),
                    json!(format!("projects/{project}/regions/{region}")),
                );
            }
        }
        r.body.extra(c, path, &r.meta, net, now, m);
    }
    absolutize(&mut v, base);
    v
}
