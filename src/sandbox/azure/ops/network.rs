//! Virtual networks, their subnets and public IPs.

use super::*;

/// A subnet's writable properties, validated against its VNet and sibling subnets.
struct SubnetSpec {
    prefix: Ipv4Net,
    nsg: Option<String>,
    route_table: Option<String>,
}

fn subnet_spec(c: &Call, props: Option<&Value>, id: &str) -> R<SubnetSpec> {
    let empty = json!({});
    let props = props.unwrap_or(&empty);
    let prefix = match (
        str_at(props, &["addressPrefix"]),
        at(props, &["addressPrefixes"]),
    ) {
        (Some(s), _) => parse_net(s, "addressPrefix")?,
        (None, Some(v)) => prefixes(Some(v), "addressPrefixes")?
            .first()
            .copied()
            .ok_or_else(|| invalid("The subnet needs an address prefix."))?,
        (None, None) => {
            return Err(invalid(
                "The subnet needs an address prefix (properties.addressPrefix).",
            ))
        }
    };
    let nsg = str_at(props, &["networkSecurityGroup", "id"]).map(String::from);
    let route_table = str_at(props, &["routeTable", "id"]).map(String::from);
    if let Some(n) = &nsg {
        c.check_ref(Kind::NetworkSecurityGroups, n, id)?;
    }
    if let Some(r) = &route_table {
        c.check_ref(Kind::RouteTables, r, id)?;
    }
    Ok(SubnetSpec {
        prefix,
        nsg,
        route_table,
    })
}

fn check_subnet_layout(
    vnet_name: &str,
    vnet_prefixes: &[Ipv4Net],
    subnets: &[(String, Ipv4Net)],
) -> R<()> {
    for (i, (name, p)) in subnets.iter().enumerate() {
        if p.trunc() != *p {
            return Err(bad_request("NetcfgInvalidSubnet", format!("Subnet '{name}' is not valid in virtual network '{vnet_name}': {p} has host bits set.")));
        }
        if !vnet_prefixes.iter().any(|v| v.contains(p)) {
            return Err(bad_request("NetcfgSubnetRangeOutsideVnet", format!("Subnet '{name}' is not valid because its IP address range {p} is outside the IP address range of virtual network '{vnet_name}'.")));
        }
        if let Some((other, q)) = subnets[..i].iter().find(|(_, q)| overlaps(*p, *q)) {
            return Err(bad_request("NetcfgSubnetRangesOverlap", format!("Subnet '{name}' is not valid because its IP address range {p} overlaps with that of an existing subnet '{other}' ({q}) in virtual network '{vnet_name}'.")));
        }
    }
    Ok(())
}

pub(super) fn vnet_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Vnet>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|v| &v.meta))?;
    let vnet_prefixes = arm_prefixes(
        at(&b, &["properties", "addressSpace", "addressPrefixes"]),
        "addressSpace.addressPrefixes",
        &p.id(),
    )?;
    if vnet_prefixes.is_empty() {
        return Err(invalid(
            "properties.addressSpace.addressPrefixes must name at least one prefix.",
        ));
    }
    let vnet_id = old
        .as_ref()
        .map(|v| v.meta.id.clone())
        .unwrap_or_else(|| p.id());
    let mut specs = Vec::new();
    for s in at(&b, &["properties", "subnets"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Every subnet needs a name."))?
            .to_string();
        let id = format!("{vnet_id}/subnets/{name}");
        specs.push((name, id.clone(), subnet_spec(c, s.get("properties"), &id)?));
    }
    let layout: Vec<(String, Ipv4Net)> = specs
        .iter()
        .map(|(n, _, s)| (n.clone(), s.prefix))
        .collect();
    check_subnet_layout(name_of(p), &vnet_prefixes, &layout)?;
    // A PUT replaces the subnet list: subnets left out are deleted, unless in use.
    if let Some(old) = &old {
        for s in old.subnets.values() {
            let kept = specs
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(&s.meta.name));
            if let Some(g) = c.subnet_user(&s.meta.id) {
                match kept {
                    None => return Err(subnet_undeletable(s, g)),
                    Some((_, _, spec)) if spec.prefix != s.prefix => {
                        return Err(subnet_prefix_fixed(s, g))
                    }
                    _ => {}
                }
            }
        }
    }
    let now = c.now();
    let ready = now + c.lat(Op::AzureSubnetCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|v| &v.meta), &location, ready)?;
    let mut subnets = BTreeMap::new();
    for (name, id, spec) in specs {
        let old_meta = old
            .as_ref()
            .and_then(|v| v.subnets.get(&name.to_ascii_lowercase()))
            .map(|s| &s.meta);
        let m = c.child_meta(old_meta, id, &name, ready);
        subnets.insert(
            name.to_ascii_lowercase(),
            Subnet {
                meta: m,
                prefix: spec.prefix,
                nsg: spec.nsg,
                route_table: spec.route_table,
            },
        );
    }
    let vnet = Vnet {
        meta,
        prefixes: vnet_prefixes,
        subnets,
        topology_name: old.as_ref().and_then(|v| v.topology_name.clone()),
    };
    Ok(store_top(c, p, vnet, old.is_none()))
}

pub(super) fn vnet_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, _: &str, v: &Vnet| {
        for s in v.subnets.values() {
            if let Some(g) = c.subnet_user(&s.meta.id) {
                return Err(subnet_undeletable(s, g));
            }
        }
        Ok(())
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

fn subnet_undeletable(s: &Subnet, g: &Gateway) -> Response {
    bad_request(
        "InUseSubnetCannotBeDeleted",
        format!(
            "Subnet {} is in use by {} and cannot be deleted.",
            s.meta.name, g.meta.id
        ),
    )
}

fn subnet_prefix_fixed(s: &Subnet, g: &Gateway) -> Response {
    bad_request(
        "InUseSubnetCannotBeUpdated",
        format!(
            "Subnet {} is in use by {} and its address prefix cannot be changed.",
            s.meta.name, g.meta.id
        ),
    )
}

impl Child for Subnet {
    child_of!(Vnet, subnets, "subnets");

    fn render(az: &AzureCloud, s: &Subnet, now: u64) -> Value {
        render::subnet(az, s, now)
    }

    fn refuse_delete(c: &Call, s: &Subnet) -> R<()> {
        match c.subnet_user(&s.meta.id) {
            Some(g) => Err(subnet_undeletable(s, g)),
            None => Ok(()),
        }
    }

    fn build(
        c: &mut Call,
        vnet: &Vnet,
        b: &Value,
        old: Option<&Subnet>,
        id: String,
        name: &str,
    ) -> R<Subnet> {
        let spec = subnet_spec(c, b.get("properties"), &id)?;
        let mut layout: Vec<(String, Ipv4Net)> = vnet
            .subnets
            .values()
            .filter(|s| !s.meta.name.eq_ignore_ascii_case(name) && !s.meta.deleting())
            .map(|s| (s.meta.name.clone(), s.prefix))
            .collect();
        // Check the new subnet against the others (it comes last so overlaps name it).
        layout.push((name.to_string(), spec.prefix));
        check_subnet_layout(&vnet.meta.name, &vnet.prefixes, &layout)?;
        if let Some((s, g)) = old.and_then(|s| c.subnet_user(&s.meta.id).map(|g| (s, g))) {
            if s.prefix != spec.prefix {
                return Err(subnet_prefix_fixed(s, g));
            }
        }
        let ready = c.now() + c.lat(Op::AzureSubnetCreate);
        let m = c.child_meta(old.map(|s| &s.meta), id, name, ready);
        Ok(Subnet {
            meta: m,
            prefix: spec.prefix,
            nsg: spec.nsg,
            route_table: spec.route_table,
        })
    }
}

// ---- public IPs ----

pub(super) fn public_ip_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<PublicIp>(c, p)?;
    let k = key(&p.id());
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let sku = match str_at(&b, &["sku", "name"]) {
        Some(s) => one_of(s, &["Basic", "Standard"], "sku.name")?,
        None => old
            .as_ref()
            .map(|o| o.sku.clone())
            .unwrap_or_else(|| "Basic".into()),
    };
    let allocation = match str_at(&b, &["properties", "publicIPAllocationMethod"]) {
        Some(a) => one_of(a, &["Static", "Dynamic"], "publicIPAllocationMethod")?,
        None if sku == "Standard" => "Static".into(),
        None => "Dynamic".into(),
    };
    if sku == "Standard" && allocation == "Dynamic" {
        return Err(bad_request(
            "StandardSkuPublicIPAddressesMustBeStatic",
            "Standard sku publicIp addresses must have publicIPAllocationMethod set to Static.",
        ));
    }
    if let (Some(o), Some(_)) = (
        &old,
        c.az()
            .gateways
            .values()
            .find(|g| g.ip_configs.iter().any(|x| key(&x.public_ip) == k)),
    ) {
        if o.sku != sku || o.allocation != allocation {
            return Err(bad_request("PublicIPAddressInUse", format!("Public IP address {} is in use and its sku or allocation method cannot change.", o.meta.id)));
        }
    }
    let idle = int_at(&b, &["properties", "idleTimeoutInMinutes"])?.unwrap_or(4);
    if !(4..=30).contains(&idle) {
        return Err(invalid("idleTimeoutInMinutes must be between 4 and 30."));
    }
    let ready = c.now() + c.lat(Op::AzurePublicIpCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let ip = match &old {
        Some(o) => o.ip,
        None => c.world.ips.allocate(Cloud::Azure),
    };
    Ok(store_top(
        c,
        p,
        PublicIp {
            meta,
            ip,
            sku,
            allocation,
            idle_timeout: idle as u32,
        },
        old.is_none(),
    ))
}

pub(super) fn public_ip_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, ip: &PublicIp| {
        match c
        .az()
        .gateways
        .values()
        .find(|g| g.ip_configs.iter().any(|x| key(&x.public_ip) == k))
    {
        Some(g) => Err(bad_request("PublicIPAddressCannotBeDeleted", format!("Public IP address {} can not be deleted since it is still allocated to resource {}/ipConfigurations/{}.", ip.meta.id, g.meta.id, g.ip_configs.first().map(|x| x.name.as_str()).unwrap_or("")))),
        None => Ok(()),
    }
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}
