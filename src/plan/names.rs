//! Deterministic cloud names for planned resources. One rule serves all three clouds: GCP's
//! `[a-z]([-a-z0-9]{0,61}[a-z0-9])?` is the strictest (Azure allows 80 characters, AWS Name
//! tags 256), so every name follows it; long names keep a readable prefix plus a hash suffix.

use sha2::{Digest, Sha256};

/// The maximum name length (GCP's limit).
pub const MAX_LEN: usize = 63;

/// Joins `parts` with '-' into a name valid on every cloud, identical for identical input.
pub fn name(parts: &[&str]) -> String {
    let raw = parts.join("-");
    let s: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    // Double hyphens stay: they separate a link's two network names (`a--b`), and collapsing
    // them would make `a-b--c` and `a--b-c` the same name.
    let mut s = s.trim_matches('-').to_string();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s.insert_str(0, "p-");
    }
    // Sanitising may merge distinct inputs (`a_b` and `a-b`), and cutting certainly does:
    // both cases get a suffix from the raw input so that distinct inputs stay distinct.
    let changed = s != raw;
    if s.len() > MAX_LEN
        || (changed
            && raw
                .chars()
                .any(|c| c != '-' && !c.is_ascii_lowercase() && !c.is_ascii_digit()))
    {
        let digest = hex::encode(Sha256::digest(raw.as_bytes()));
        let suffix = &digest[..8];
        s.truncate(MAX_LEN - suffix.len() - 1);
        let s = s.trim_end_matches('-');
        return format!("{s}-{suffix}");
    }
    s
}

/// True when `s` satisfies GCP's resource name rule.
pub fn is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LEN
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_readable_joins() {
        assert_eq!(
            name(&["prod-mesh", "aws-use1", "vgw"]),
            "prod-mesh-aws-use1-vgw"
        );
    }

    #[test]
    fn long_names_are_cut_to_63_with_a_distinguishing_suffix() {
        let long = "x".repeat(80);
        let a = name(&["prod", &long, "a"]);
        let b = name(&["prod", &long, "b"]);
        assert!(is_valid(&a) && is_valid(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a.len(), 63);
    }

    #[test]
    fn invalid_characters_are_replaced_and_names_start_with_a_letter() {
        let n = name(&["9Prod", "A_B"]);
        assert!(is_valid(&n), "{n}");
        assert_ne!(n, name(&["9prod", "a-b"]));
        assert_ne!(name(&["A"]), name(&["a"]));
    }

    #[test]
    fn link_names_keep_the_double_hyphen_so_distinct_links_stay_distinct() {
        assert_ne!(name(&["t", "a-b--c"]), name(&["t", "a--b-c"]));
    }
}
