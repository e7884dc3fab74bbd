//! Identifier rules: UUIDs, logical names, traits.

use uuid::Uuid;

/// Ironic's `is_uuid_like`: parses as a UUID in any of the accepted spellings.
pub fn is_uuid_like(s: &str) -> bool {
    Uuid::parse_str(s).is_ok()
}

/// Node names reserved by the nodes controller.
pub const RESERVED_NODE_NAMES: [&str; 6] = ["detail", "validate", "states", "management", "maintenance", "vendor_passthru"];

/// A logical name (API ≥ 1.10): 1–255 characters from RFC 3986's unreserved set, not UUID-like.
pub fn is_valid_logical_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
        && !is_uuid_like(name)
}

/// The older hostname rule (API < 1.10): RFC 952/1123 labels, dot separated, lowercase allowed.
pub fn is_hostname_safe(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 || is_uuid_like(name) {
        return false;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

/// A trait: a `CUSTOM_` name of `[A-Z0-9_]`, or a standard-looking upper-case name (≤ 255).
pub fn is_valid_trait(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 255
        && t.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !t.starts_with('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_logical_name("node-1.rack_2~x"));
        assert!(!is_valid_logical_name("node 1"));
        assert!(!is_valid_logical_name(""));
        assert!(!is_valid_logical_name("1be26c0b-03f2-4d2e-ae87-c02d7f33c123"));
        assert!(is_hostname_safe("node-1.example"));
        assert!(!is_hostname_safe("node_1"));
        assert!(is_valid_trait("CUSTOM_GPU"));
        assert!(is_valid_trait("HW_CPU_X86_AVX2"));
        assert!(!is_valid_trait("custom_gpu"));
    }
}
