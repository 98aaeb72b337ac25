//! Route tables and their routes.

use super::*;

fn route(v: &Value, meta: Meta) -> R<Route> {
    let props = v.get("properties").cloned().unwrap_or(json!({}));
    let prefix = arm_prefix(
        str_at(&props, &["addressPrefix"])
            .ok_or_else(|| invalid("route.addressPrefix is required."))?,
        &meta.id,
    )?;
    let next_hop_type = one_of(
        str_at(&props, &["nextHopType"])
            .ok_or_else(|| invalid("route.nextHopType is required."))?,
        &[
            "VirtualNetworkGateway",
            "VnetLocal",
            "Internet",
            "VirtualAppliance",
            "None",
        ],
        "nextHopType",
    )?;
    let name = &meta.name;
    // Clients that model the field as a plain string send "" for "no address".
    let next_hop_ip = match str_at(&props, &["nextHopIpAddress"]).filter(|s| !s.is_empty()) {
        None if next_hop_type == "VirtualAppliance" => {
            return Err(bad_request("MissingNextHopIpAddress", format!("NextHopIpAddress cannot be Null or Empty in route {name} when NextHopType is VirtualAppliance.")));
        }
        None => None,
        Some(ip) if next_hop_type != "VirtualAppliance" => {
            return Err(bad_request("InvalidNextHopIpAddress", format!("NextHopIpAddress {ip} is not allowed in route {name}: only NextHopType VirtualAppliance takes a next hop address, not {next_hop_type}.")));
        }
        Some(ip) => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
            bad_request(
                "InvalidNextHopIpAddress",
                format!("NextHopIpAddress {ip} in route {name} is not a valid IPv4 address."),
            )
        })?),
    };
    Ok(Route {
        meta,
        prefix,
        next_hop_type,
        next_hop_ip,
    })
}

pub(super) fn route_table_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<RouteTable>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let ready = c.now() + c.lat(Op::AzureRouteCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let routes = inline_children(
        c,
        &b,
        old.as_ref(),
        &meta.id,
        ready,
        "Every route needs a name.",
        |v, m, _| route(v, m),
    )?;
    let disable = bool_at(&b, &["properties", "disableBgpRoutePropagation"])?.unwrap_or(false);
    Ok(store_top(
        c,
        p,
        RouteTable {
            meta,
            disable_bgp_propagation: disable,
            routes,
        },
        old.is_none(),
    ))
}

pub(super) fn route_table_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, t: &RouteTable| match c
        .az()
        .vnets
        .values()
        .flat_map(|v| v.subnets.values())
        .find(|s| s.route_table.as_deref().map(key).as_deref() == Some(k))
    {
        Some(s) => Err(bad_request(
            "InUseRouteTableCannotBeDeleted",
            format!(
                "Route table {} is in use by {} and cannot be deleted.",
                t.meta.id, s.meta.id
            ),
        )),
        None => Ok(()),
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

impl Child for Route {
    child_of!(RouteTable, routes, "routes");

    fn render(_: &AzureCloud, r: &Route, now: u64) -> Value {
        render::route(r, now)
    }

    fn build(
        c: &mut Call,
        _: &RouteTable,
        b: &Value,
        old: Option<&Route>,
        id: String,
        name: &str,
    ) -> R<Route> {
        let ready = c.now() + c.lat(Op::AzureRouteCreate);
        let m = c.child_meta(old.map(|r| &r.meta), id, name, ready);
        route(b, m)
    }
}
