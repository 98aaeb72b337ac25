//! Virtual private gateways, their VPC attachment and customer gateways: found by their
//! identity tags and adopted before anything is created, then waited for until usable.
//! An attachment's id is `vgw-…/vpc-…` (attachments carry no id or tags of their own).

use super::{
    identity_filters, is_code, is_gone, known, tag_spec, tag_value, AwsProvider, GATEWAY_POLL,
};
use crate::providers::{Desired, Outputs, ProviderError, TAG_ADDRESS};
use aws_sdk_ec2::types::{
    AttachmentStatus, CustomerGateway, GatewayType, ResourceType, Tag, VpnGateway,
};

const VGW_NOT_FOUND: &str = "InvalidVpnGatewayID.NotFound";
const CGW_NOT_FOUND: &str = "InvalidCustomerGatewayID.NotFound";
const ATTACHMENT_NOT_FOUND: &str = "InvalidVpnGatewayAttachment.NotFound";

fn vgw_state(g: &VpnGateway) -> &str {
    g.state().map(|s| s.as_str()).unwrap_or("unknown")
}

/// The state of `g`'s attachment to `vpc`, when it has one.
fn attachment_state<'a>(g: &'a VpnGateway, vpc: &str) -> Option<&'a AttachmentStatus> {
    g.vpc_attachments()
        .iter()
        .find(|a| a.vpc_id() == Some(vpc))
        .and_then(|a| a.state())
}

/// `vgw-…/vpc-…` → the two ids.
fn parse_attachment_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/')
        .filter(|(g, v)| g.starts_with("vgw-") && v.starts_with("vpc-"))
        .ok_or_else(|| ProviderError::Attribute(format!("attachment id {id} is not vgw-…/vpc-…")))
}

impl AwsProvider {
    // ------------------------------------------------------------ virtual private gateways

    /// The live VGW carrying `d`'s identity tags.
    async fn find_vgw(&self, d: &Desired) -> Result<Option<VpnGateway>, ProviderError> {
        let filters = identity_filters(d);
        let out = self
            .call(&d.region, "DescribeVpnGateways", |c| {
                c.describe_vpn_gateways()
                    .set_filters(Some(filters.clone()))
                    .send()
            })
            .await?;
        // The ASN is fixed at creation: a VGW with another one is a predecessor being
        // replaced, not this resource.
        let asn = d.attrs.opt_int("amazon_side_asn");
        let mut live = out.vpn_gateways().iter().filter(|g| {
            let same = asn.is_none() || g.amazon_side_asn().is_none() || g.amazon_side_asn() == asn;
            if !same {
                tracing::info!(address = %d.address, vgw = ?g.vpn_gateway_id(), "not adopting a VGW with another ASN");
            }
            !is_gone(vgw_state(g)) && same
        });
        let found = live.next().cloned();
        if let Some(extra) = live.next() {
            tracing::warn!(address = %d.address, twin = ?extra.vpn_gateway_id(), "several VGWs carry this identity; adopting the first");
        }
        Ok(found)
    }

    /// The VGW `id` (in any state); `None` when EC2 does not know it.
    pub(super) async fn describe_vgw(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<VpnGateway>, ProviderError> {
        match self
            .call(region, "DescribeVpnGateways", |c| {
                c.describe_vpn_gateways().vpn_gateway_ids(id).send()
            })
            .await
        {
            Ok(out) => Ok(out.vpn_gateways().first().cloned()),
            Err(e) if is_code(&e, &[VGW_NOT_FOUND]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Describes a VGW that must exist, riding out eventual consistency.
    async fn describe_new_vgw(&self, region: &str, id: &str) -> Result<VpnGateway, ProviderError> {
        self.consistent("DescribeVpnGateways", &[VGW_NOT_FOUND], || async {
            match self.describe_vgw(region, id).await? {
                Some(g) => Ok(g),
                None => Err(ProviderError::cloud(
                    VGW_NOT_FOUND,
                    format!("The vpnGateway ID '{id}' does not exist"),
                )),
            }
        })
        .await
    }

    pub(super) async fn create_vgw(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let id = match self.find_vgw(d).await? {
            Some(g) => {
                let id = g.vpn_gateway_id().unwrap_or_default().to_string();
                tracing::info!(address = %d.address, %id, "adopting the existing VGW");
                id
            }
            None => {
                let asn = d.attrs.opt_int("amazon_side_asn");
                let tags = tag_spec(ResourceType::VpnGateway, d);
                let out = self
                    .call(&d.region, "CreateVpnGateway", |c| {
                        c.create_vpn_gateway()
                            .r#type(GatewayType::Ipsec1)
                            .set_amazon_side_asn(asn)
                            .tag_specifications(tags.clone())
                            .send()
                    })
                    .await?;
                out.vpn_gateway()
                    .and_then(|g| g.vpn_gateway_id())
                    .ok_or_else(|| {
                        ProviderError::cloud("InvalidResponse", "CreateVpnGateway returned no id")
                    })?
                    .to_string()
            }
        };
        if id.is_empty() {
            return Err(ProviderError::cloud(
                "InvalidResponse",
                "DescribeVpnGateways returned a gateway without an id",
            ));
        }
        let timeout = self.cfg.timeouts.aws_other;
        self.wait_for(
            &format!("VGW {id} available"),
            GATEWAY_POLL,
            timeout,
            || async {
                let g = self.describe_new_vgw(&d.region, &id).await?;
                match vgw_state(&g) {
                    "available" => Ok(Ok(())),
                    s if is_gone(s) => Err(ProviderError::Failed {
                        what: format!("VGW {id}"),
                        message: format!("it is {s}"),
                    }),
                    s => Ok(Err(s.to_string())),
                }
            },
        )
        .await?;
        Ok(super::id_output(&id))
    }

    pub(super) async fn read_vgw(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let g = match id {
            Some(id) => self.describe_vgw(&d.region, id).await?,
            None => self.find_vgw(d).await?,
        };
        Ok(g.filter(|g| !is_gone(vgw_state(g)))
            .and_then(|g| g.vpn_gateway_id().map(super::id_output)))
    }

    pub(super) async fn delete_vgw(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        // A detaching VGW (or one whose VPN connection is still being deleted) refuses with
        // IncorrectState until that finishes.
        let window = self.cfg.scaled(self.cfg.timeouts.aws_other);
        let every = self.cfg.scaled(GATEWAY_POLL);
        let r = self
            .tolerate(
                "DeleteVpnGateway",
                &["IncorrectState"],
                window,
                every,
                || {
                    self.call(&d.region, "DeleteVpnGateway", |c| {
                        c.delete_vpn_gateway().vpn_gateway_id(id).send()
                    })
                },
            )
            .await;
        match r {
            Ok(_) => {}
            Err(e) if is_code(&e, &[VGW_NOT_FOUND]) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(
            &format!("VGW {id} deleted"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                Ok(match self.describe_vgw(&d.region, id).await? {
                    None => Ok(()),
                    Some(g) if vgw_state(&g) == "deleted" => Ok(()),
                    Some(g) => Err(vgw_state(&g).to_string()),
                })
            },
        )
        .await
    }

    // ------------------------------------------------------------ attachments

    pub(super) async fn create_attachment(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let vpc = d.attrs.str("vpc_id")?;
        let vgw = d.attrs.str("vpn_gateway_id")?;
        let g = self.describe_new_vgw(&d.region, vgw).await?;
        let present = matches!(
            attachment_state(&g, vpc),
            Some(AttachmentStatus::Attached | AttachmentStatus::Attaching)
        );
        if !present {
            // AttachVpnGateway may follow CreateVpnGateway at once (as Terraform's provider
            // does): NotFound is eventual consistency, IncorrectState a VGW still pending.
            let window = self.cfg.scaled(self.cfg.timeouts.aws_other);
            let (consistency, every) = self.consistency();
            self.tolerate(
                "AttachVpnGateway",
                &[VGW_NOT_FOUND, "IncorrectState"],
                window.max(consistency),
                every.max(self.cfg.scaled(GATEWAY_POLL)),
                || {
                    self.call(&d.region, "AttachVpnGateway", |c| {
                        c.attach_vpn_gateway()
                            .vpc_id(vpc)
                            .vpn_gateway_id(vgw)
                            .send()
                    })
                },
            )
            .await?;
        }
        self.wait_for(
            &format!("VGW {vgw} attached to {vpc}"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                let g = self.describe_new_vgw(&d.region, vgw).await?;
                match attachment_state(&g, vpc) {
                    Some(AttachmentStatus::Attached) => Ok(Ok(())),
                    Some(AttachmentStatus::Attaching) => Ok(Err("attaching".to_string())),
                    other => Err(ProviderError::Failed {
                        what: format!("attaching {vgw} to {vpc}"),
                        message: format!(
                            "the attachment is {}",
                            other.map_or("absent", |s| s.as_str())
                        ),
                    }),
                }
            },
        )
        .await?;
        Ok(super::id_output(&format!("{vgw}/{vpc}")))
    }

    pub(super) async fn read_attachment(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let (vgw, vpc) = match id {
            Some(id) => parse_attachment_id(id)?,
            None => match (known(d, "vpn_gateway_id"), known(d, "vpc_id")) {
                (Some(g), Some(v)) => (g, v),
                // The VGW is not known: it was not found, so neither is its attachment.
                _ => return Ok(None),
            },
        };
        let Some(g) = self.describe_vgw(&d.region, vgw).await? else {
            return Ok(None);
        };
        let live = !is_gone(vgw_state(&g))
            && matches!(
                attachment_state(&g, vpc),
                Some(AttachmentStatus::Attached | AttachmentStatus::Attaching)
            );
        Ok(live.then(|| super::id_output(&format!("{vgw}/{vpc}"))))
    }

    pub(super) async fn delete_attachment(
        &self,
        d: &Desired,
        id: &str,
    ) -> Result<(), ProviderError> {
        let (vgw, vpc) = parse_attachment_id(id)?;
        let r = self
            .call(&d.region, "DetachVpnGateway", |c| {
                c.detach_vpn_gateway()
                    .vpc_id(vpc)
                    .vpn_gateway_id(vgw)
                    .send()
            })
            .await;
        match r {
            Ok(_) => {}
            Err(e) if is_code(&e, &[VGW_NOT_FOUND, ATTACHMENT_NOT_FOUND]) => {}
            Err(e) => return Err(e),
        }
        self.wait_for(
            &format!("VGW {vgw} detached from {vpc}"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                let Some(g) = self.describe_vgw(&d.region, vgw).await? else {
                    return Ok(Ok(()));
                };
                if is_gone(vgw_state(&g)) {
                    return Ok(Ok(()));
                }
                Ok(match attachment_state(&g, vpc) {
                    None | Some(AttachmentStatus::Detached) => Ok(()),
                    Some(s) => Err(s.as_str().to_string()),
                })
            },
        )
        .await
    }

    // ------------------------------------------------------------ customer gateways

    async fn find_cgw(&self, d: &Desired) -> Result<Option<CustomerGateway>, ProviderError> {
        let filters = identity_filters(d);
        let out = self
            .call(&d.region, "DescribeCustomerGateways", |c| {
                c.describe_customer_gateways()
                    .set_filters(Some(filters.clone()))
                    .send()
            })
            .await?;
        // IP and ASN are fixed: a gateway with others is a predecessor being replaced.
        let ip = d.attrs.opt_str("ip_address");
        let asn = d
            .attrs
            .opt_int("bgp_asn")
            .or_else(|| d.attrs.opt_int("bgp_asn_extended"));
        Ok(out
            .customer_gateways()
            .iter()
            .filter(|g| !is_gone(g.state().unwrap_or("unknown")))
            .find(|g| {
                let have_asn = g
                    .bgp_asn()
                    .or(g.bgp_asn_extended())
                    .and_then(|a| a.parse::<i64>().ok());
                let same = ip.is_none_or(|ip| g.ip_address() == Some(ip))
                    && (asn.is_none() || have_asn.is_none() || asn == have_asn);
                if !same {
                    tracing::info!(address = %d.address, cgw = ?g.customer_gateway_id(), "not adopting a customer gateway with another IP or ASN");
                }
                same
            })
            .cloned())
    }

    async fn describe_cgw(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<CustomerGateway>, ProviderError> {
        match self
            .call(region, "DescribeCustomerGateways", |c| {
                c.describe_customer_gateways()
                    .customer_gateway_ids(id)
                    .send()
            })
            .await
        {
            Ok(out) => Ok(out.customer_gateways().first().cloned()),
            Err(e) if is_code(&e, &[CGW_NOT_FOUND]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn create_cgw(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let id = match self.find_cgw(d).await? {
            Some(g) => g.customer_gateway_id().unwrap_or_default().to_string(),
            None => self.new_cgw(d).await?,
        };
        if id.is_empty() {
            return Err(ProviderError::cloud(
                "InvalidResponse",
                "a customer gateway without an id",
            ));
        }
        let (window, every) = self.consistency();
        self.wait_for(
            &format!("customer gateway {id} available"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                let g = self
                    .tolerate(
                        "DescribeCustomerGateways",
                        &[CGW_NOT_FOUND],
                        window,
                        every,
                        || async {
                            self.describe_cgw(&d.region, &id).await?.ok_or_else(|| {
                                ProviderError::cloud(CGW_NOT_FOUND, format!("{id} does not exist"))
                            })
                        },
                    )
                    .await?;
                match g.state().unwrap_or("unknown") {
                    "available" => Ok(Ok(())),
                    s if is_gone(s) => Err(ProviderError::Failed {
                        what: format!("customer gateway {id}"),
                        message: format!("it is {s}"),
                    }),
                    s => Ok(Err(s.to_string())),
                }
            },
        )
        .await?;
        Ok(super::id_output(&id))
    }

    /// CreateCustomerGateway. EC2 answers with the existing gateway for the same IP, ASN and
    /// type; such a gateway is tagged as ours unless it already belongs to a peerctl resource.
    async fn new_cgw(&self, d: &Desired) -> Result<String, ProviderError> {
        let ip = d.attrs.str("ip_address")?;
        let asn = d.attrs.opt_int("bgp_asn");
        let asn_ext = d.attrs.opt_int("bgp_asn_extended");
        let asn = match asn {
            Some(a) => Some(i32::try_from(a).map_err(|_| {
                ProviderError::Attribute(format!("bgp_asn {a} is above EC2's BgpAsn range"))
            })?),
            None => None,
        };
        let tags = tag_spec(ResourceType::CustomerGateway, d);
        let out = self
            .call(&d.region, "CreateCustomerGateway", |c| {
                c.create_customer_gateway()
                    .r#type(GatewayType::Ipsec1)
                    .ip_address(ip)
                    .set_bgp_asn(asn)
                    .set_bgp_asn_extended(asn_ext)
                    .tag_specifications(tags.clone())
                    .send()
            })
            .await?;
        let g = out.customer_gateway().ok_or_else(|| {
            ProviderError::cloud("InvalidResponse", "CreateCustomerGateway returned nothing")
        })?;
        let id = g.customer_gateway_id().unwrap_or_default().to_string();
        if !id.is_empty() && tag_value(g.tags(), TAG_ADDRESS).is_none() {
            let tags: Vec<Tag> = super::identity_tags(d);
            self.call(&d.region, "CreateTags", |c| {
                c.create_tags()
                    .resources(&id)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await?;
        }
        Ok(id)
    }

    pub(super) async fn read_cgw(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let g = match id {
            Some(id) => self.describe_cgw(&d.region, id).await?,
            None => self.find_cgw(d).await?,
        };
        Ok(g.filter(|g| !is_gone(g.state().unwrap_or("unknown")))
            .and_then(|g| g.customer_gateway_id().map(super::id_output)))
    }

    pub(super) async fn delete_cgw(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        // In use by a VPN connection that is still being deleted: IncorrectState until it is.
        let window = self.cfg.scaled(self.cfg.timeouts.aws_vpn_connection);
        let every = self.cfg.scaled(GATEWAY_POLL);
        let r = self
            .tolerate(
                "DeleteCustomerGateway",
                &["IncorrectState"],
                window,
                every,
                || {
                    self.call(&d.region, "DeleteCustomerGateway", |c| {
                        c.delete_customer_gateway().customer_gateway_id(id).send()
                    })
                },
            )
            .await;
        match r {
            Ok(_) => {}
            Err(e) if is_code(&e, &[CGW_NOT_FOUND]) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(
            &format!("customer gateway {id} deleted"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                Ok(match self.describe_cgw(&d.region, id).await? {
                    None => Ok(()),
                    Some(g) if g.state() == Some("deleted") => Ok(()),
                    Some(g) => Err(g.state().unwrap_or("unknown").to_string()),
                })
            },
        )
        .await
    }
}
