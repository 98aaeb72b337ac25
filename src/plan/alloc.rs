//! Allocation of ASNs, tunnel inside /30s, NSG priority blocks and pre-shared keys.
//! Placement derives from each item's identity (a hash of the network or link id probing for a
//! free slot), never from list order, and allocations recorded in state take precedence: an
//! edit to the topology never moves what already exists.

use crate::state::{Allocations, LinkAllocation, Secret, TunnelAllocation};
use crate::topology::Topology;
use ipnet::Ipv4Net;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

/// Private 16-bit ASNs (RFC 6996) peerctl allocates from.
pub const ASN_FIRST: u32 = 64512;
pub const ASN_LAST: u32 = 65534;
/// Private 32-bit ASNs (RFC 6996), used once the 16-bit range is exhausted.
pub const ASN32_FIRST: u32 = 4_200_000_000;
pub const ASN32_LAST: u32 = 4_294_967_294;
/// ASNs Azure reserves (never allocated, whatever the pair, so that a later switch of an Azure
/// pair to BGP needs no renumbering).
pub const AZURE_RESERVED_ASNS: [u32; 8] = [65515, 65517, 65518, 65519, 65520, 8074, 8075, 12076];

/// Number of /30 slots in 169.254.0.0/16.
const INSIDE_SLOTS: u32 = 1 << 14;

/// Why allocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no free {what} left for {scope}")]
    Exhausted { what: &'static str, scope: String },
    #[error(
        "network {network}: asn {asn} is also {} linked network {other}, and BGP needs a distinct ASN on each side; fix: give {network} another asn, or omit it to let peerctl allocate one",
        if *other_fixed { "set for" } else { "allocated (recorded in state) to" }
    )]
    AsnTaken {
        /// The network whose user-fixed ASN collides.
        network: String,
        other: String,
        asn: u32,
        /// Position of `network` in the topology file.
        line: usize,
        col: usize,
        other_fixed: bool,
    },
}

/// What one link needs allocated.
#[derive(Debug, Clone)]
pub struct LinkNeeds {
    pub id: String,
    /// Tunnel count.
    pub tunnels: u8,
    /// Whether each tunnel needs an inside /30 (BGP, and every AWS tunnel).
    pub inside_ranges: bool,
    /// Azure networks of the link (each gets an NSG priority block).
    pub azure_networks: Vec<String>,
}

/// A stable 64-bit hash (sha256 prefix: std's hasher may change between Rust releases).
pub fn hash64(s: &str) -> u64 {
    let d = Sha256::digest(s.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// True for an ASN peerctl never allocates.
pub fn asn_reserved(asn: u32) -> bool {
    AZURE_RESERVED_ASNS.contains(&asn)
}

/// True for a /30 slot (index within 169.254.0.0/16) that AWS rejects as tunnel inside CIDR:
/// 169.254.0.0/30 … 169.254.5.0/30 and 169.254.169.252/30.
pub fn inside_slot_reserved(slot: u32) -> bool {
    (slot.is_multiple_of(64) && slot / 64 <= 5) || slot == 169 * 64 + 63
}

/// True for a /30 AWS would reject as tunnel inside CIDR.
pub fn inside_cidr_reserved(net: &Ipv4Net) -> bool {
    match slot_of(net) {
        Some(s) => inside_slot_reserved(s),
        None => true,
    }
}

fn slot_of(net: &Ipv4Net) -> Option<u32> {
    let o = net.network().octets();
    (net.prefix_len() == 30 && o[0] == 169 && o[1] == 254)
        .then(|| (u32::from(o[2]) << 6) | (u32::from(o[3]) >> 2))
}

fn slot_net(slot: u32) -> Ipv4Net {
    let base = u32::from(Ipv4Addr::new(169, 254, 0, 0)) + slot * 4;
    // A /30 on a 4-aligned address is always a valid prefix.
    Ipv4Net::new(Ipv4Addr::from(base), 30).unwrap_or_default()
}

/// Allocates everything the links need. Recorded allocations are kept (also those of links no
/// longer in the topology stay reserved, as their resources still exist until deleted).
pub fn allocate(
    topo: &Topology,
    needs: &[LinkNeeds],
    recorded: &Allocations,
    nsg_first: u16,
    nsg_last: u16,
    nsg_block: u16,
) -> Result<Allocations, AllocError> {
    let asns = allocate_asns(topo, recorded)?;
    let mut links = BTreeMap::new();

    let mut used_inside: HashSet<u32> = recorded
        .links
        .values()
        .flat_map(|l| l.tunnels.iter().filter_map(|t| t.inside_cidr.as_ref()))
        .filter_map(slot_of)
        .collect();
    let mut used_nsg: HashMap<&str, HashSet<u16>> = HashMap::new();
    for l in recorded.links.values() {
        for (net, p) in &l.nsg_priorities {
            used_nsg.entry(net.as_str()).or_default().insert(*p);
        }
    }

    let mut sorted: Vec<&LinkNeeds> = needs.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for need in sorted {
        let old = recorded.links.get(&need.id);
        let mut tunnels = Vec::with_capacity(usize::from(need.tunnels));
        for k in 0..need.tunnels {
            let kept = old
                .and_then(|o| o.tunnels.iter().find(|t| t.index == k))
                .filter(|t| t.inside_cidr.is_some() == need.inside_ranges);
            let inside_cidr = match kept {
                Some(t) => t.inside_cidr,
                None if need.inside_ranges => {
                    let start =
                        (hash64(&format!("{}#{k}", need.id)) % u64::from(INSIDE_SLOTS)) as u32;
                    let slot = (0..INSIDE_SLOTS)
                        .map(|i| (start + i) % INSIDE_SLOTS)
                        .find(|s| !inside_slot_reserved(*s) && !used_inside.contains(s))
                        .ok_or_else(|| AllocError::Exhausted {
                            what: "tunnel inside /30 in 169.254.0.0/16",
                            scope: need.id.clone(),
                        })?;
                    used_inside.insert(slot);
                    Some(slot_net(slot))
                }
                None => None,
            };
            tunnels.push(TunnelAllocation {
                index: k,
                inside_cidr,
            });
        }
        let mut nsg_priorities = BTreeMap::new();
        for net in &need.azure_networks {
            if let Some(p) = old.and_then(|o| o.nsg_priorities.get(net)) {
                nsg_priorities.insert(net.clone(), *p);
                continue;
            }
            let blocks = (nsg_last - nsg_first + 1) / nsg_block;
            let used = used_nsg.entry(net.as_str()).or_default();
            let start = (hash64(&format!("{}@{net}", need.id)) % u64::from(blocks)) as u16;
            let p = (0..blocks)
                .map(|i| nsg_first + ((start + i) % blocks) * nsg_block)
                .find(|p| !used.contains(p))
                .ok_or_else(|| AllocError::Exhausted {
                    what: "NSG priority block",
                    scope: format!("network {net}"),
                })?;
            used.insert(p);
            nsg_priorities.insert(net.clone(), p);
        }
        links.insert(
            need.id.clone(),
            LinkAllocation {
                tunnels,
                nsg_priorities,
            },
        );
    }
    Ok(Allocations { asns, links })
}

/// One ASN per network (its VGW / Cloud Router / Azure gateway). Kept first: set in the
/// topology, then recorded in state. The rest probe from a hash of the network name for a
/// value that no other network of the topology or the state holds, so that any two networks
/// can be linked later without renumbering either; the 16-bit private range first, the 32-bit
/// one (4200000000–4294967294) once that is full.
///
/// Two linked networks can still share a kept ASN when one of them is user-fixed: both fixed
/// is a topology validation error, one fixed and the other recorded is [`AllocError::AsnTaken`]
/// (the user's edit, pointing at its line). Two recorded ones (left by an older allocator)
/// are peerctl's own: the network whose name sorts later is allocated afresh.
fn allocate_asns(
    topo: &Topology,
    recorded: &Allocations,
) -> Result<BTreeMap<String, u32>, AllocError> {
    let mut asns: BTreeMap<String, u32> = BTreeMap::new();
    let mut fixed: HashSet<&str> = HashSet::new();
    for n in &topo.networks {
        match (recorded.asns.get(&n.name), n.asn) {
            // A user-set ASN wins over a recorded one: changing it is a deliberate edit.
            (_, Some(a)) => {
                asns.insert(n.name.clone(), a);
                fixed.insert(&n.name);
            }
            (Some(&a), None) => {
                asns.insert(n.name.clone(), a);
            }
            (None, None) => {}
        }
    }
    let mut links: Vec<(&str, &str)> = topo
        .links
        .iter()
        .map(|l| (l.a.as_str(), l.b.as_str()))
        .collect();
    links.sort_unstable();
    for (a, b) in links {
        let (Some(&x), Some(&y)) = (asns.get(a), asns.get(b)) else {
            continue;
        };
        if x != y {
            continue;
        }
        let network = |name: &str| topo.networks.iter().find(|n| n.name == name);
        match (fixed.contains(a), fixed.contains(b)) {
            (false, false) => {
                asns.remove(a.max(b));
            }
            (fa, _) => {
                let (user, other) = if fa { (a, b) } else { (b, a) };
                let span = network(user).map(|n| n.span).unwrap_or_default();
                return Err(AllocError::AsnTaken {
                    network: user.to_string(),
                    other: other.to_string(),
                    asn: x,
                    line: span.line,
                    col: span.col,
                    other_fixed: fixed.contains(other),
                });
            }
        }
    }
    // Every ASN the topology or the state holds, also of networks about to be deleted.
    let mut taken: HashSet<u32> = asns.values().copied().collect();
    taken.extend(recorded.asns.values().copied());
    let mut free: Vec<&str> = topo
        .networks
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| !asns.contains_key(*n))
        .collect();
    free.sort_unstable();
    for name in free {
        let asn = free_asn(hash64(name), &taken).ok_or_else(|| AllocError::Exhausted {
            what: "private ASN",
            scope: format!("network {name}"),
        })?;
        taken.insert(asn);
        asns.insert(name.to_string(), asn);
    }
    Ok(asns)
}

/// The first ASN not in `taken` nor reserved, probing from `h` in the 16-bit private range,
/// then in the 32-bit one.
fn free_asn(h: u64, taken: &HashSet<u32>) -> Option<u32> {
    [(ASN_FIRST, ASN_LAST), (ASN32_FIRST, ASN32_LAST)]
        .into_iter()
        .find_map(|(first, last)| {
            let pool = last - first + 1;
            let start = (h % u64::from(pool)) as u32;
            (0..pool)
                .map(|i| first + (start + i) % pool)
                .find(|a| !asn_reserved(*a) && !taken.contains(a))
        })
}

/// Generates pre-shared keys: 32 characters of `[A-Za-z0-9]`, the first a letter (the
/// intersection of the three clouds' rules). Each key derives from one seed drawn from the
/// injected RNG and the key's identity, so adding a link never changes another link's key.
pub struct PskSource {
    seed: [u8; 32],
}

const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl PskSource {
    pub fn new<R: RngCore + rand_core::CryptoRng>(rng: &mut R) -> PskSource {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        PskSource { seed }
    }

    /// The key for `id` (e.g. `link/0`).
    pub fn psk(&self, id: &str) -> Secret {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(b"psk\0");
        h.update(id.as_bytes());
        let mut rng = ChaCha20Rng::from_seed(h.finalize().into());
        let mut out = String::with_capacity(32);
        // Rejection sampling keeps every character equally likely.
        let mut pick = |alphabet: &[u8]| loop {
            let b = (rng.next_u32() & 0xff) as usize;
            let lim = 256 - 256 % alphabet.len();
            if b < lim {
                return alphabet[b % alphabet.len()] as char;
            }
        };
        out.push(pick(LETTERS));
        for _ in 1..32 {
            out.push(pick(ALNUM));
        }
        Secret::new(out)
    }
}

/// True when `s` has the shape of a generated key.
pub fn is_valid_psk(s: &str) -> bool {
    s.len() == 32
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_rejected_inside_ranges_are_reserved() {
        for s in ["169.254.0.0/30", "169.254.5.0/30", "169.254.169.252/30"] {
            assert!(inside_cidr_reserved(&s.parse().unwrap()), "{s}");
        }
        for s in ["169.254.6.0/30", "169.254.0.4/30", "169.254.169.248/30"] {
            assert!(!inside_cidr_reserved(&s.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn slots_and_nets_round_trip() {
        for s in [0, 1, 63, 64, 10879, INSIDE_SLOTS - 1] {
            assert_eq!(slot_of(&slot_net(s)), Some(s));
        }
    }

    #[test]
    fn psks_have_the_common_shape_and_depend_on_identity() {
        use rand_core::SeedableRng;
        let src = PskSource::new(&mut ChaCha20Rng::seed_from_u64(3));
        let a = src.psk("l/0");
        assert!(is_valid_psk(a.expose()), "{}", a.expose());
        assert_ne!(a, src.psk("l/1"));
        let again = PskSource::new(&mut ChaCha20Rng::seed_from_u64(3));
        assert_eq!(a, again.psk("l/0"));
    }

    #[test]
    fn azure_reserved_asns_lie_in_or_out_of_the_pool_but_are_never_allocated() {
        assert!(asn_reserved(65515));
        assert!(!asn_reserved(64512));
    }
}
