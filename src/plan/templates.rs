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
        if t.ike.version != 2 {
            return Err(d.err("ike.version", "only IKEv2 is supported by every pairing"));
        }
        if t.routing == "bgp" && t.bgp.is_none() {
            return Err(d.err("bgp", "missing (routing is bgp)"));
        }
        if t.firewall.azure_priority_first < 100
            || t.firewall.azure_priority_last > 4096
            || t.firewall.azure_priority_last < t.firewall.azure_priority_first + NSG_BLOCK
        {
            return Err(d.err(
                "firewall.azure_priority_first",
                "NSG priorities must lie within 100-4096 and hold at least one block of 4",
            ));
        }
        Ok(t)
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
            24 => "DHGroup24".into(),
            2 => "DHGroup2".into(),
            g => format!("DHGroup{g}"),
        }
    }
    pub fn azure_pfs_group(group: u32) -> String {
        match group {
            14 => "PFS2048".into(),
            24 => "PFS24".into(),
            2 => "PFS2".into(),
            g => format!("PFS{g}"),
        }
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
        assert!(Template::parse("x", &text).is_err());
    }
}
