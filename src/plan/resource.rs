//! The plan's resource vocabulary: resource kinds (`aws.vpn_connection`, `gcp.vpn_tunnel`…),
//! attribute values that may reference another resource's not-yet-known output, and the
//! resource itself. The same words are used in state, JSON output and provider dispatch.

use crate::cloud::Cloud;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

macro_rules! kinds {
    ($( $variant:ident = $name:literal, $cloud:ident, [$($out:literal),*] ;)*) => {
        /// A resource kind, written `cloud.kind`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            pub fn cloud(self) -> Cloud {
                match self { $(Kind::$variant => Cloud::$cloud,)* }
            }

            /// The outputs a resource of this kind has once created (what a [`Ref`] may name).
            pub fn outputs(self) -> &'static [&'static str] {
                match self { $(Kind::$variant => &[$($out),*],)* }
            }

            pub fn parse(s: &str) -> Option<Kind> {
                match s { $($name => Some(Kind::$variant),)* _ => None }
            }
        }
    };
}

kinds! {
    AwsVpnGateway = "aws.vpn_gateway", Aws, ["id"];
    AwsVpnGatewayAttachment = "aws.vpn_gateway_attachment", Aws, ["id"];
    AwsCustomerGateway = "aws.customer_gateway", Aws, ["id"];
    AwsVpnConnection = "aws.vpn_connection", Aws,
        ["id", "tunnel1_outside_ip", "tunnel2_outside_ip"];
    AwsVpnConnectionRoute = "aws.vpn_connection_route", Aws, ["id"];
    AwsRoutePropagation = "aws.route_propagation", Aws, ["id"];
    AwsSecurityGroupRule = "aws.security_group_rule", Aws, ["id"];
    GcpVpnGateway = "gcp.vpn_gateway", Gcp, ["id", "interface0_ip", "interface1_ip"];
    GcpRouter = "gcp.router", Gcp, ["id"];
    GcpRouterInterface = "gcp.router_interface", Gcp, ["id"];
    GcpRouterPeer = "gcp.router_peer", Gcp, ["id"];
    GcpExternalVpnGateway = "gcp.external_vpn_gateway", Gcp, ["id"];
    GcpVpnTunnel = "gcp.vpn_tunnel", Gcp, ["id"];
    GcpAddress = "gcp.address", Gcp, ["id", "address"];
    GcpTargetVpnGateway = "gcp.target_vpn_gateway", Gcp, ["id"];
    GcpForwardingRule = "gcp.forwarding_rule", Gcp, ["id"];
    GcpRoute = "gcp.route", Gcp, ["id"];
    GcpFirewall = "gcp.firewall", Gcp, ["id"];
    AzureSubnet = "azure.subnet", Azure, ["id"];
    AzurePublicIp = "azure.public_ip", Azure, ["id", "ip_address"];
    AzureVpnGateway = "azure.vpn_gateway", Azure, ["id"];
    AzureLocalNetworkGateway = "azure.local_network_gateway", Azure, ["id"];
    AzureConnection = "azure.connection", Azure, ["id"];
    AzureNsgRule = "azure.nsg_rule", Azure, ["id"];
}

impl Kind {
    /// True when a change of attribute `attr` can be applied to an existing resource of this
    /// kind through the cloud's update API; anything else (every attribute not listed, and
    /// every reference to another resource's id) recreates it. From the clouds' APIs:
    /// EC2 ModifyVpnTunnelOptions / ModifyVpnConnectionOptions and security group rule
    /// replacement, Compute routers.patch and firewalls.patch, ARM PUT on the same name.
    /// References to ids that the APIs cannot re-point (a VPN connection's VGW or customer
    /// gateway, a GCP tunnel's gateways and router, an Azure connection's gateways) are
    /// deliberately absent, so that a replaced dependency replaces its dependents.
    pub fn updatable(self, attr: &str) -> bool {
        use Kind::*;
        matches!(
            (self, attr),
            (
                AwsVpnConnection,
                "tunnels" | "local_ipv4_network_cidr" | "remote_ipv4_network_cidr"
            ) | (AwsRoutePropagation, "route_tables")
                | (
                    AwsSecurityGroupRule,
                    "permissions" | "source_cidrs" | "security_groups" | "description"
                )
                | (GcpRouter, "asn" | "advertise_mode" | "keepalive_seconds")
                | (
                    GcpRouterPeer,
                    "peer_asn" | "advertise_mode" | "advertised_route_priority"
                )
                | (GcpFirewall, "source_ranges" | "allowed" | "priority")
                | (AzureVpnGateway, "sku")
                // An LNG's IP and prefixes are updated in place (PUT), so a replaced peer
                // (new outside or public IP) only updates it.
                | (
                    AzureLocalNetworkGateway,
                    "gateway_ip_address" | "address_prefixes"
                )
                | (AzureConnection, "shared_key" | "ipsec_policy")
                | (
                    AzureNsgRule,
                    "direction"
                        | "access"
                        | "protocol"
                        | "priority"
                        | "source_address_prefixes"
                        | "destination_address_prefixes"
                        | "destination_port_ranges"
                )
        )
    }

    /// True when recreating one of this kind's ordering-only dependencies (`depends_on`
    /// without a reference) also recreates it. Only route propagation: it is enabled for a VGW
    /// attached to the VPC, so a recreated attachment gets its propagation enabled again rather
    /// than assuming it survived the detach. A classic tunnel after its forwarding rules, or a
    /// VPN connection after the attachment, name neither and keep working.
    pub fn follows_ordering_dependencies(self) -> bool {
        matches!(self, Kind::AwsRoutePropagation)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown kind {s}")))
    }
}

/// "The output `output` of resource `resource`", known only once that resource exists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ref {
    #[serde(rename = "$ref")]
    pub resource: String,
    #[serde(rename = "$output")]
    pub output: String,
}

/// A pointer to a secret held outside the resource graph (the plan's or state's secrets),
/// so that the graph itself never contains a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    #[serde(rename = "$secret")]
    pub key: String,
}

/// An attribute value. References and secret pointers serialise as objects with `$`-keys
/// (`{"$ref": …, "$output": …}`, `{"$secret": …}`), which no attribute map uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Value {
    Ref(Ref),
    Secret(SecretRef),
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl<'de> Deserialize<'de> for Value {
    // Not derived: an untagged derive would read a 2-element string list as a `Ref` (serde
    // accepts structs as sequences); decoding through JSON values keeps the shapes apart.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let j = serde_json::Value::deserialize(d)?;
        Value::from_json(j).map_err(serde::de::Error::custom)
    }
}

impl Value {
    fn from_json(j: serde_json::Value) -> Result<Value, String> {
        use serde_json::Value as J;
        Ok(match j {
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => Value::Int(
                n.as_i64()
                    .ok_or_else(|| format!("attribute number {n} is not a 64-bit integer"))?,
            ),
            J::String(s) => Value::Str(s),
            J::Array(a) => Value::List(
                a.into_iter()
                    .map(Value::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(mut o) => {
                let is = |keys: &[&str], o: &serde_json::Map<String, J>| {
                    o.len() == keys.len()
                        && keys.iter().all(|k| o.get(*k).is_some_and(J::is_string))
                };
                if is(&["$ref", "$output"], &o) {
                    let s = |v: Option<J>| {
                        v.and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    };
                    Value::Ref(Ref {
                        resource: s(o.remove("$ref")),
                        output: s(o.remove("$output")),
                    })
                } else if is(&["$secret"], &o) {
                    Value::Secret(SecretRef {
                        key: o
                            .remove("$secret")
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                    })
                } else {
                    Value::Map(
                        o.into_iter()
                            .map(|(k, v)| Ok((k, Value::from_json(v)?)))
                            .collect::<Result<_, String>>()?,
                    )
                }
            }
            J::Null => return Err("null is not an attribute value".into()),
        })
    }

    pub fn r(resource: &str, output: &str) -> Value {
        Value::Ref(Ref {
            resource: resource.to_string(),
            output: output.to_string(),
        })
    }

    pub fn secret(key: &str) -> Value {
        Value::Secret(SecretRef {
            key: key.to_string(),
        })
    }

    pub fn strs<I: IntoIterator<Item = S>, S: ToString>(items: I) -> Value {
        Value::List(
            items
                .into_iter()
                .map(|s| Value::Str(s.to_string()))
                .collect(),
        )
    }

    /// Every reference inside this value, depth first.
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Value::Ref(r) => out.push(r),
            Value::List(l) => l.iter().for_each(|v| v.refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.refs(out)),
            _ => {}
        }
    }

    /// Every secret key inside this value.
    pub fn secrets<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Secret(s) => out.push(&s.key),
            Value::List(l) => l.iter().for_each(|v| v.secrets(out)),
            Value::Map(m) => m.values().for_each(|v| v.secrets(out)),
            _ => {}
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Int(i64::from(i))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// One resource of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `kind.key`, unique in the plan, e.g. `aws.vpn_connection.aws-use1--gcp-usc1-0`.
    pub address: String,
    pub kind: Kind,
    /// The deterministic name in the cloud (Name tag on AWS).
    pub name: String,
    pub region: String,
    /// The network whose account/project/subscription holds it (`None`: shared by a region,
    /// e.g. an AWS customer gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The link it exists for (`None`: shared by every link of its network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub attributes: BTreeMap<String, Value>,
    /// Addresses this resource needs first: every [`Ref`] target plus ordering-only
    /// dependencies (e.g. a classic tunnel after its gateway's forwarding rules). Sorted.
    pub depends_on: Vec<String>,
}

impl Resource {
    pub fn cloud(&self) -> Cloud {
        self.kind.cloud()
    }
}

/// Builds a resource; dependencies are collected from references when finished.
/// The resource is boxed so that each chained call moves a pointer, not the whole resource.
pub(crate) struct Builder {
    r: Box<Resource>,
    extra: Vec<String>,
}

impl Builder {
    pub fn new(kind: Kind, key: &str, name: String, region: &str) -> Builder {
        Builder {
            r: Box::new(Resource {
                address: format!("{}.{key}", kind.as_str()),
                kind,
                name,
                region: region.to_string(),
                network: None,
                link: None,
                attributes: BTreeMap::new(),
                depends_on: Vec::new(),
            }),
            extra: Vec::new(),
        }
    }
    pub fn network(mut self, n: &str) -> Builder {
        self.r.network = Some(n.to_string());
        self
    }
    pub fn link(mut self, l: &str) -> Builder {
        self.r.link = Some(l.to_string());
        self
    }
    pub fn attr(mut self, k: &str, v: impl Into<Value>) -> Builder {
        self.r.attributes.insert(k.to_string(), v.into());
        self
    }
    pub fn after(mut self, address: &str) -> Builder {
        self.extra.push(address.to_string());
        self
    }
    pub fn build(mut self) -> Resource {
        let mut refs = Vec::new();
        for v in self.r.attributes.values() {
            v.refs(&mut refs);
        }
        let mut deps: Vec<String> = refs.into_iter().map(|r| r.resource.clone()).collect();
        deps.append(&mut self.extra);
        deps.sort();
        deps.dedup();
        self.r.depends_on = deps;
        *self.r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_carry_their_cloud() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
            assert!(k.as_str().starts_with(k.cloud().as_str()));
        }
    }

    #[test]
    fn refs_and_secrets_serialise_distinctly_from_maps() {
        let v = Value::List(vec![
            Value::r("aws.vpn_gateway.x", "id"),
            Value::secret("l/0"),
            Value::Map([("resource".to_string(), Value::from("y"))].into()),
        ]);
        let json = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        // Short string lists stay lists (a derived untagged decoder reads them as refs).
        for v in [Value::strs(["a", "b"]), Value::strs(["ikev2"])] {
            let back: Value = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn builder_depends_on_every_referenced_resource_once() {
        let r = Builder::new(Kind::GcpVpnTunnel, "t", "t".into(), "r")
            .attr("a", Value::r("gcp.router.x", "id"))
            .attr("b", Value::List(vec![Value::r("gcp.router.x", "id")]))
            .after("gcp.forwarding_rule.y")
            .build();
        assert_eq!(r.depends_on, vec!["gcp.forwarding_rule.y", "gcp.router.x"]);
    }
}
