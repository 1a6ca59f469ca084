//! Known Azure region names (`az account list-locations`, physical regions only).
//!
//! A region missing from this list can still be used through the run-time override
//! `MSAL_<APP>_AZURE_REGION`, which is only checked against the DNS-label pattern.

/// Azure regions accepted by `azure_region` in `msal.toml`.
#[rustfmt::skip]
pub const KNOWN_REGIONS: &[&str] = &[
    // Americas
    "brazilsouth", "brazilsoutheast", "brazilus", "canadacentral", "canadaeast",
    "centralus", "centraluseuap", "chilecentral", "eastus", "eastus2", "eastus2euap",
    "eastusstg", "mexicocentral", "northcentralus", "southcentralus", "southcentralusstg",
    "westcentralus", "westus", "westus2", "westus3",
    // Europe
    "austriaeast", "belgiumcentral", "denmarkeast", "francecentral", "francesouth",
    "germanynorth", "germanywestcentral", "italynorth", "northeurope", "norwayeast",
    "norwaywest", "polandcentral", "spaincentral", "swedencentral", "swedensouth",
    "switzerlandnorth", "switzerlandwest", "uksouth", "ukwest", "westeurope",
    // Asia Pacific
    "australiacentral", "australiacentral2", "australiaeast", "australiasoutheast",
    "centralindia", "eastasia", "indonesiacentral", "japaneast", "japanwest",
    "jioindiacentral", "jioindiawest", "koreacentral", "koreasouth", "malaysiasouth",
    "malaysiawest", "newzealandnorth", "southeastasia", "southindia", "taiwannorth",
    "taiwannorthwest", "westindia",
    // Middle East and Africa
    "israelcentral", "qatarcentral", "southafricanorth", "southafricawest", "uaecentral",
    "uaenorth", "saudiarabiaeast",
    // US Government
    "usdodcentral", "usdodeast", "usgovarizona", "usgoviowa", "usgovtexas", "usgovvirginia",
    "usnateast", "usnatwest", "usseceast", "ussecwest",
    // China (21Vianet)
    "chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2", "chinanorth3",
    // Germany (legacy sovereign cloud)
    "germanycentral", "germanynortheast",
];

/// `^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`, the pattern MSAL Python applies to region names.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_are_labels_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in KNOWN_REGIONS {
            assert!(is_dns_label(r), "{r}");
            assert!(seen.insert(r), "duplicate {r}");
        }
    }

    #[test]
    fn dns_label_pattern() {
        assert!(is_dns_label("eastus"));
        assert!(is_dns_label("a"));
        assert!(is_dns_label("us-gov-1"));
        assert!(!is_dns_label("EastUS"));
        assert!(!is_dns_label("1east"));
        assert!(!is_dns_label("east-"));
        assert!(!is_dns_label("east us"));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
