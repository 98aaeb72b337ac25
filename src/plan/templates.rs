//! Connection templates: one YAML file per strategy under `templates/`, embedded at build time
//! and parsed at startup. The planner takes tunnel counts, IKE proposals, BGP timers and
//! firewall defaults from here rather than from constants in code.

use yaml_rust2::{Yaml, YamlLoader};

const HA_VPN_BGP: &str = include_str!("../../templates/ha-vpn-bgp.yaml");
const CLASSIC_VPN_STATIC: &str = include_str!("../../templates/classic-vpn-static.yaml");

/// A template that does not parse or lacks a field.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template}: YAML error: {message}")]
    Yaml { template: String, message: String },
    #[error("template {template}: field {field}: {message}")]
    Field {
        template: String,
        field: String,
        message: String,
    },
}

/// One IKE phase's single proposal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Phase {
    pub encryption: String,
    pub integrity: String,
    /// DH group (phase 1) or PFS group (phase 2), as the RFC 3526 group number.
    pub group: u32,
    pub lifetime_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ike {
    pub version: u32,
    pub phase1: Phase,
    pub phase2: Phase,
    pub dpd_timeout_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bgp {
    pub advertise_mode: String,
    pub keepalive_seconds: u32,
    pub advertised_route_priority: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Firewall {
    pub gcp_priority: u32,
    /// NSG priorities peerctl may use (each link takes a block of [`NSG_BLOCK`]).
    pub azure_priority_first: u16,
    pub azure_priority_last: u16,
}

/// Static routes the planner writes for a static link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Routes {
    /// Priority of GCP routes to the remote prefixes (0-65535, lower wins).
    pub gcp_priority: u32,
}

/// Priorities per link in an NSG: allow tcp, allow udp, allow icmp/all, deny the rest.
pub const NSG_BLOCK: u16 = 4;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AzureDefaults {
    pub public_ip_sku: String,
    pub public_ip_allocation: String,
    pub vpn_type: String,
    pub sa_data_size_kilobytes: u64,
}

/// One parsed template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Template {
    pub strategy: String,
    pub routing: String,
    pub tunnels: u32,
    pub ike: Ike,
    pub traffic_selector_local: String,
    pub traffic_selector_remote: String,
    pub bgp: Option<Bgp>,
    /// Present for static routing.
    pub routes: Option<Routes>,
    pub azure: Option<AzureDefaults>,
    pub firewall: Firewall,
}

/// Both templates, parsed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Templates {
    pub ha_vpn_bgp: Template,
    pub classic_vpn_static: Template,
}

impl Templates {
    /// The templates embedded in this binary.
    pub fn embedded() -> Result<Templates, TemplateError> {
        Ok(Templates {
            ha_vpn_bgp: Template::parse("ha-vpn-bgp", HA_VPN_BGP)?,
            classic_vpn_static: Template::parse("classic-vpn-static", CLASSIC_VPN_STATIC)?,
        })
    }
}

struct Doc<'a> {
    name: &'a str,
    root: Yaml,
}

impl Doc<'_> {
    fn node(&self, path: &str) -> &Yaml {
        path.split('.').fold(&self.root, |y, k| &y[k])
    }
    fn err(&self, path: &str, message: &str) -> TemplateError {
        TemplateError::Field {
            template: self.name.to_string(),
            field: path.to_string(),
            message: message.to_string(),
        }
    }
    fn str(&self, path: &str) -> Result<String, TemplateError> {
        match self.node(path) {
            Yaml::String(s) => Ok(s.clone()),
            Yaml::BadValue => Err(self.err(path, "missing")),
            _ => Err(self.err(path, "expected a string")),
        }
    }
    fn int<T: TryFrom<i64>>(&self, path: &str) -> Result<T, TemplateError> {
        match self.node(path) {
            Yaml::Integer(i) => T::try_from(*i).map_err(|_| self.err(path, "out of range")),
            Yaml::BadValue => Err(self.err(path, "missing")),
            _ => Err(self.err(path, "expected an integer")),
        }
    }
    fn present(&self, path: &str) -> bool {
        !self.node(path).is_badvalue()
    }
    fn phase(&self, p: &str, group_key: &str) -> Result<Phase, TemplateError> {
        Ok(Phase {
            encryption: self.str(&format!("{p}.encryption"))?,
            integrity: self.str(&format!("{p}.integrity"))?,
            group: self.int(&format!("{p}.{group_key}"))?,
            lifetime_seconds: self.int(&format!("{p}.lifetime_seconds"))?,
        })
    }
}

impl Template {
    /// Parses one template; `name` is used in errors.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let mut docs = YamlLoader::load_from_str(text).map_err(|e| TemplateError::Yaml {
            template: name.to_string(),
            message: e.to_string(),
        })?;
        if docs.is_empty() {
            return Err(TemplateError::Yaml {
                template: name.to_string(),
                message: "empty document".into(),
            });
        }
        let d = Doc {
            name,
            root: docs.swap_remove(0),
        };
        let t = Template {
            strategy: d.str("strategy")?,
            routing: d.str("routing")?,
            tunnels: d.int("tunnels")?,
            ike: Ike {
                version: d.int("ike.version")?,
                phase1: d.phase("ike.phase1", "dh_group")?,
                phase2: d.phase("ike.phase2", "pfs_group")?,
                dpd_timeout_seconds: d.int("ike.dpd_timeout_seconds")?,
            },
            traffic_selector_local: d.str("traffic_selectors.local")?,
            traffic_selector_remote: d.str("traffic_selectors.remote")?,
            bgp: if d.present("bgp") {
                Some(Bgp {
                    advertise_mode: d.str("bgp.advertise_mode")?,
                    keepalive_seconds: d.int("bgp.keepalive_seconds")?,
                    advertised_route_priority: d.int("bgp.advertised_route_priority")?,
                })
            } else {
                None
            },
            routes: if d.present("routes") {
                Some(Routes {
                    gcp_priority: d.int("routes.gcp_priority")?,
                })
            } else {
                None
            },
            azure: if d.present("azure") {
                Some(AzureDefaults {
                    public_ip_sku: d.str("azure.public_ip_sku")?,
                    public_ip_allocation: d.str("azure.public_ip_allocation")?,
                    vpn_type: d.str("azure.vpn_type")?,
                    sa_data_size_kilobytes: d.int("azure.sa_data_size_kilobytes")?,
                })
            } else {
                None
            },
            firewall: Firewall {
                gcp_priority: d.int("firewall.gcp_priority")?,
                azure_priority_first: d.int("firewall.azure_priority_first")?,
                azure_priority_last: d.int("firewall.azure_priority_last")?,
            },
        };
        t.check(&d)?;
        Ok(t)
    }

    /// Refuses any value the planner cannot build: the counts are facts of the strategy, the
    /// algorithms must be in the lists of all three clouds (and spelled for each by
    /// [`Template::azure_integrity`] etc.), and the ranges are the clouds' API limits.
    fn check(&self, d: &Doc<'_>) -> Result<(), TemplateError> {
        let (routing, tunnels, why) = match self.strategy.as_str() {
            "ha-vpn-bgp" => (
                "bgp",
                4,
                "HA VPN to AWS is 2 AWS VPN connections of 2 tunnels each, one per GCP HA \
                 interface (FOUR_IPS_REDUNDANCY external gateway)",
            ),
            "classic-vpn-static" => (
                "static",
                1,
                "a static link has one active tunnel: Azure accepts several tunnels to one site \
                 only with BGP (towards AWS the second AWS tunnel is a standby, not counted)",
            ),
            other => {
                return Err(d.err(
                    "strategy",
                    &format!("unknown strategy `{other}`; one of ha-vpn-bgp, classic-vpn-static"),
                ))
            }
        };
        if self.strategy != d.name {
            return Err(d.err(
                "strategy",
                &format!(
                    "is `{}`, but this is the {} template",
                    self.strategy, d.name
                ),
            ));
        }
        if self.routing != routing {
            return Err(d.err(
                "routing",
                &format!("must be `{routing}` for {}", self.strategy),
            ));
        }
        if self.tunnels != tunnels {
            return Err(d.err(
                "tunnels",
                &format!("must be {tunnels} for {}: {why}", self.strategy),
            ));
        }
        if self.ike.version != 2 {
            return Err(d.err("ike.version", "only IKEv2 is supported by every pairing"));
        }
        for (p, phase, integrity, lifetime) in [
            (
                "ike.phase1",
                &self.ike.phase1,
                &["SHA1", "SHA2-256", "SHA2-384"][..],
                (900, 28800),
            ),
            (
                "ike.phase2",
                &self.ike.phase2,
                &["SHA1", "SHA2-256"][..],
                (900, 3600),
            ),
        ] {
            let group_key = if p == "ike.phase1" {
                "dh_group"
            } else {
                "pfs_group"
            };
            one_of(
                d,
                &format!("{p}.encryption"),
                &phase.encryption,
                &["AES128", "AES256"],
            )?;
            one_of(d, &format!("{p}.integrity"), &phase.integrity, integrity)?;
            if !SUPPORTED_GROUPS.contains(&phase.group) {
                return Err(d.err(
                    &format!("{p}.{group_key}"),
                    &format!(
                        "group {} is not supported by all three clouds; one of {SUPPORTED_GROUPS:?}",
                        phase.group
                    ),
                ));
            }
            in_range(
                d,
                &format!("{p}.lifetime_seconds"),
                phase.lifetime_seconds,
                lifetime,
            )?;
        }
        in_range(
            d,
            "ike.dpd_timeout_seconds",
            self.ike.dpd_timeout_seconds,
            (30, 3600),
        )?;
        for (f, v) in [
            ("traffic_selectors.local", &self.traffic_selector_local),
            ("traffic_selectors.remote", &self.traffic_selector_remote),
        ] {
            if v != "0.0.0.0/0" {
                return Err(d.err(
                    f,
                    "must be 0.0.0.0/0: every tunnel is route-based (GCP HA VPN refuses narrower \
                     selectors)",
                ));
            }
        }
        match (&self.bgp, routing) {
            (None, "bgp") => return Err(d.err("bgp", "missing (routing is bgp)")),
            (Some(b), _) => {
                one_of(d, "bgp.advertise_mode", &b.advertise_mode, &["DEFAULT"])?;
                in_range(d, "bgp.keepalive_seconds", b.keepalive_seconds, (20, 60))?;
                in_range(
                    d,
                    "bgp.advertised_route_priority",
                    b.advertised_route_priority,
                    (0, 65535),
                )?;
            }
            _ => {}
        }
        match (&self.routes, routing) {
            (None, "static") => return Err(d.err("routes", "missing (routing is static)")),
            (Some(r), _) => in_range(d, "routes.gcp_priority", r.gcp_priority, (0, 65535))?,
            _ => {}
        }
        match (&self.azure, self.strategy.as_str()) {
            (None, "classic-vpn-static") => {
                return Err(d.err("azure", "missing (every static link has an Azure side)"))
            }
            (Some(a), _) => {
                // A Standard static IP is known before the gateway exists, which the plan's
                // references to it rely on.
                one_of(d, "azure.public_ip_sku", &a.public_ip_sku, &["Standard"])?;
                one_of(
                    d,
                    "azure.public_ip_allocation",
                    &a.public_ip_allocation,
                    &["Static"],
                )?;
                one_of(d, "azure.vpn_type", &a.vpn_type, &["RouteBased"])?;
                if !(1024..=2_147_483_647).contains(&a.sa_data_size_kilobytes) {
                    return Err(d.err(
                        "azure.sa_data_size_kilobytes",
                        "must lie within 1024-2147483647 (Azure's IPsec policy limits)",
                    ));
                }
            }
            _ => {}
        }
        in_range(
            d,
            "firewall.gcp_priority",
            self.firewall.gcp_priority,
            (0, 65535),
        )?;
        let f = &self.firewall;
        if f.azure_priority_first < 100
            || f.azure_priority_last > 4096
            || f.azure_priority_last < f.azure_priority_first + NSG_BLOCK
        {
            return Err(d.err(
                "firewall.azure_priority_first",
                "NSG priorities must lie within 100-4096 and hold at least one block of 4",
            ));
        }
        Ok(())
    }

    /// Azure's spelling of an integrity algorithm in an IPsec policy.
    pub fn azure_integrity(alg: &str) -> &str {
        match alg {
            "SHA2-256" => "SHA256",
            "SHA2-384" => "SHA384",
            "SHA1" => "SHA1",
            other => other,
        }
    }

    /// Azure's spelling of a DH group (phase 1) and a PFS group (phase 2).
    pub fn azure_dh_group(group: u32) -> String {
        match group {
            14 => "DHGroup14".into(),
            19 => "ECP256".into(),
            20 => "ECP384".into(),
            24 => "DHGroup24".into(),
            2 => "DHGroup2".into(),
            g => format!("DHGroup{g}"),
        }
    }
    pub fn azure_pfs_group(group: u32) -> String {
        match group {
            14 => "PFS2048".into(),
            19 => "ECP256".into(),
            20 => "ECP384".into(),
            24 => "PFS24".into(),
            2 => "PFS2".into(),
            g => format!("PFS{g}"),
        }
    }
}

/// DH (phase 1) and PFS (phase 2) groups in the lists of AWS, GCP and Azure: MODP 1024 and
/// 2048, ECP 256 and 384.
pub const SUPPORTED_GROUPS: [u32; 4] = [2, 14, 19, 20];

fn one_of(d: &Doc<'_>, field: &str, v: &str, allowed: &[&str]) -> Result<(), TemplateError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(d.err(
            field,
            &format!(
                "`{v}` is not supported by the planner; one of {}",
                allowed.join(", ")
            ),
        ))
    }
}

fn in_range(d: &Doc<'_>, field: &str, v: u32, (lo, hi): (u32, u32)) -> Result<(), TemplateError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(d.err(field, &format!("{v} is outside {lo}-{hi}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_templates_parse_with_one_proposal_all_clouds_accept() {
        let t = Templates::embedded().unwrap();
        assert_eq!(t.ha_vpn_bgp.tunnels, 4);
        assert_eq!(t.classic_vpn_static.tunnels, 1);
        for tpl in [&t.ha_vpn_bgp, &t.classic_vpn_static] {
            assert_eq!(tpl.ike.version, 2);
            assert_eq!(tpl.ike.phase1.encryption, "AES256");
            assert_eq!(tpl.ike.phase1.group, 14);
            assert_eq!(tpl.ike.phase2.group, 14);
        }
        assert!(t.ha_vpn_bgp.bgp.is_some());
        assert!(t.classic_vpn_static.azure.is_some());
    }

    #[test]
    fn a_template_missing_a_field_names_it() {
        let text = CLASSIC_VPN_STATIC.replace("    dh_group: 14\n", "");
        let e = Template::parse("x", &text).unwrap_err();
        assert!(e.to_string().contains("ike.phase1.dh_group"), "{e}");
    }

    #[test]
    fn ikev1_templates_are_refused() {
        let text = HA_VPN_BGP.replace("  version: 2", "  version: 1");
        let e = Template::parse("ha-vpn-bgp", &text).unwrap_err();
        assert!(e.to_string().contains("ike.version"), "{e}");
    }

    /// Replaces the one line starting with `key:` (after indentation) in `text`.
    fn set(text: &str, key: &str, value: &str) -> String {
        let mut hits = 0;
        let out: Vec<String> = text
            .lines()
            .map(|l| {
                let t = l.trim_start();
                if t.starts_with(&format!("{key}:")) {
                    hits += 1;
                    format!("{}{key}: {value}", &l[..l.len() - t.len()])
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert_eq!(hits, 1, "{key} in template");
        out.join("\n") + "\n"
    }

    #[test]
    fn values_the_planner_cannot_build_are_refused_naming_template_and_field() {
        let cases = [
            ("ha-vpn-bgp", HA_VPN_BGP, "tunnels", "2", "tunnels"),
            ("ha-vpn-bgp", HA_VPN_BGP, "tunnels", "8", "tunnels"),
            (
                "classic-vpn-static",
                CLASSIC_VPN_STATIC,
                "tunnels",
                "2",
                "tunnels",
            ),
            ("ha-vpn-bgp", HA_VPN_BGP, "routing", "static", "routing"),
            (
                "ha-vpn-bgp",
                HA_VPN_BGP,
                "strategy",
                "classic-vpn-static",
                "strategy",
            ),
            (
                "ha-vpn-bgp",
                HA_VPN_BGP,
                "advertise_mode",
                "CUSTOM",
                "bgp.advertise_mode",
            ),
            (
                "ha-vpn-bgp",
                HA_VPN_BGP,
                "keepalive_seconds",
                "5",
                "bgp.keepalive_seconds",
            ),
            (
                "ha-vpn-bgp",
                HA_VPN_BGP,
                "local",
                "10.0.0.0/8",
                "traffic_selectors.local",
            ),
            (
                "ha-vpn-bgp",
                HA_VPN_BGP,
                "dh_group",
                "5",
                "ike.phase1.dh_group",
            ),
            (
                "ha-vpn-bgp",
                HA_VPN_BGP,
                "pfs_group",
                "24",
                "ike.phase2.pfs_group",
            ),
            (
                "classic-vpn-static",
                CLASSIC_VPN_STATIC,
                "gcp_priority",
                "70000",
                "firewall.gcp_priority",
            ),
            (
                "classic-vpn-static",
                CLASSIC_VPN_STATIC,
                "public_ip_allocation",
                "Dynamic",
                "azure.public_ip_allocation",
            ),
            (
                "classic-vpn-static",
                CLASSIC_VPN_STATIC,
                "dpd_timeout_seconds",
                "10",
                "ike.dpd_timeout_seconds",
            ),
        ];
        for (name, text, key, value, field) in cases {
            let bad = if key == "gcp_priority" {
                // Two gcp_priority keys (firewall, routes): change the firewall's.
                text.replace(
                    "  gcp_priority: 1000\n  azure",
                    &format!("  gcp_priority: {value}\n  azure"),
                )
            } else {
                set(text, key, value)
            };
            assert_ne!(bad, text, "{key}");
            let e = Template::parse(name, &bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("template {name}: field {field}:")),
                "{key}={value}: {e}"
            );
        }
        let cut = CLASSIC_VPN_STATIC.find("\nroutes:").unwrap();
        let without_routes = format!("{}\n", &CLASSIC_VPN_STATIC[..cut]);
        let e = Template::parse("classic-vpn-static", &without_routes).unwrap_err();
        assert!(e.to_string().contains("field routes: missing"), "{e}");
    }

    #[test]
    fn route_priority_comes_from_the_template() {
        let mut t = Templates::embedded().unwrap();
        assert_eq!(
            t.classic_vpn_static.routes.as_ref().unwrap().gcp_priority,
            1000
        );
        t.classic_vpn_static.routes = Some(Routes { gcp_priority: 900 });
        let topo = crate::topology::Topology {
            version: 1,
            name: "t".into(),
            networks: vec![
                crate::plan::tests::gcp("g", "10.2.0.0/16"),
                crate::plan::tests::azure("z", "10.3.0.0/16", "10.3.255.0/27"),
            ],
            links: vec![crate::plan::tests::link("g", "z", vec![])],
        };
        use rand_core::SeedableRng;
        let p = crate::plan::plan(
            &topo,
            &crate::state::State::empty(),
            &t,
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
        )
        .unwrap();
        let route = p
            .resources
            .iter()
            .find(|r| r.address == "gcp.route.g--z-0")
            .unwrap();
        assert_eq!(
            route.attributes["priority"],
            crate::plan::resource::Value::Int(900)
        );
    }
}
