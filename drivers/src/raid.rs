//! Target RAID configuration checks (Ironic's `raid_config_schema.json` plus the one-root-volume
//! rule of `ironic.common.raid`), written out by hand so no JSON-schema engine is needed.
//!
//! Error messages start with "RAID config validation error:" as Ironic's do.

use ferric_model::{Dict, Error};
use serde_json::Value;
use std::collections::BTreeMap;

const RAID_LEVELS: [&str; 9] = ["JBOD", "0", "1", "2", "5", "6", "1+0", "5+0", "6+0"];

/// `(property, description)` of a logical disk, as `GET /v1/drivers/{d}/raid/logical_disk_properties`
/// shows them.
const LOGICAL_DISK_PROPERTIES: [(&str, &str); 10] = [
    ("raid_level", "RAID level for the logical disk. Valid values are 'JBOD', '0', '1', '2', '5', '6', '1+0', '5+0' and '6+0'. Required."),
    ("size_gb", "Size in GiB (Integer) for the logical disk. Use 'MAX' as size_gb if this logical disk is supposed to use the rest of the space available. Required."),
    ("volume_name", "Name of the volume to be created. If this is not specified, it will be auto-generated. Optional."),
    ("is_root_volume", "Specifies whether this disk is a root volume. By default, this is False. Optional."),
    ("share_physical_disks", "Specifies whether other logical disks can share physical disks with this logical disk. By default, this is False. Optional."),
    ("disk_type", "The type of disk preferred. Valid values are 'hdd' and 'ssd'. If this is not specified, disk type will not be a selection criterion for choosing backing physical disks. Optional."),
    ("interface_type", "The interface type of disk. Valid values are 'sata', 'scsi' and 'sas'. If this is not specified, interface type will not be a selection criterion for choosing backing physical disks. Optional."),
    ("number_of_physical_disks", "Number of physical disks to use for this logical disk. By default, the driver uses the minimum number of disks required for that RAID level. Optional."),
    ("controller", "Controller to use for this logical disk. If not specified, the driver will choose a suitable RAID controller on the bare metal node. Optional."),
    ("physical_disks", "The physical disks to use for this logical disk. If not specified, the driver will choose suitable physical disks to use. Optional."),
];

/// The properties a logical disk may have, with their descriptions.
pub fn logical_disk_properties() -> BTreeMap<String, String> {
    LOGICAL_DISK_PROPERTIES.iter().map(|(k, d)| (k.to_string(), d.to_string())).collect()
}

fn err(msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("RAID config validation error: {msg}"))
}

/// Checks a target RAID configuration `{"logical_disks": [...]}`.
pub fn validate_target_raid_config(config: &Dict) -> Result<(), Error> {
    for k in config.keys() {
        if k != "logical_disks" {
            return Err(err(format!("Additional properties are not allowed ('{k}' was unexpected)")));
        }
    }
    let disks = match config.get("logical_disks") {
        None => return Err(err("'logical_disks' is a required property")),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(err(format!("{other} is not of type 'array'"))),
    };
    if disks.is_empty() {
        return Err(err("[] is too short"));
    }
    let mut roots = 0usize;
    for (i, d) in disks.iter().enumerate() {
        let Value::Object(disk) = d else {
            return Err(err(format!("logical_disks[{i}]: {d} is not of type 'object'")));
        };
        validate_logical_disk(i, disk)?;
        if disk.get("is_root_volume").and_then(Value::as_bool) == Some(true) {
            roots += 1;
        }
    }
    if roots > 1 {
        return Err(Error::invalid(format!(
            "Raid config cannot have more than one root volume. {roots} root volumes were specified"
        )));
    }
    Ok(())
}

fn validate_logical_disk(i: usize, disk: &Dict) -> Result<(), Error> {
    let known: Vec<&str> = LOGICAL_DISK_PROPERTIES.iter().map(|(k, _)| *k).collect();
    for k in disk.keys() {
        if !known.contains(&k.as_str()) {
            return Err(err(format!(
                "logical_disks[{i}]: Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    match disk.get("raid_level") {
        None => return Err(err(format!("logical_disks[{i}]: 'raid_level' is a required property"))),
        Some(Value::String(s)) if RAID_LEVELS.contains(&s.as_str()) => {}
        Some(v) => return Err(err(format!("logical_disks[{i}]: {v} is not one of {RAID_LEVELS:?}"))),
    }
    match disk.get("size_gb") {
        None => return Err(err(format!("logical_disks[{i}]: 'size_gb' is a required property"))),
        Some(Value::String(s)) if s == "MAX" => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        Some(v) => return Err(err(format!("logical_disks[{i}]: size_gb {v} is not a non-negative integer or 'MAX'"))),
    }
    for key in ["volume_name", "controller"] {
        if let Some(v) = disk.get(key) {
            if !v.is_string() {
                return Err(err(format!("logical_disks[{i}]: {key} {v} is not of type 'string'")));
            }
        }
    }
    for key in ["is_root_volume", "share_physical_disks"] {
        if let Some(v) = disk.get(key) {
            if !v.is_boolean() {
                return Err(err(format!("logical_disks[{i}]: {key} {v} is not of type 'boolean'")));
            }
        }
    }
    let enum_check = |key: &str, allowed: &[&str]| -> Result<(), Error> {
        match disk.get(key) {
            None => Ok(()),
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
            Some(v) => Err(err(format!("logical_disks[{i}]: {key} {v} is not one of {allowed:?}"))),
        }
    };
    enum_check("disk_type", &["hdd", "ssd"])?;
    enum_check("interface_type", &["sata", "scsi", "sas"])?;
    if let Some(v) = disk.get("number_of_physical_disks") {
        if !matches!(v.as_u64(), Some(n) if n > 0) {
            return Err(err(format!("logical_disks[{i}]: number_of_physical_disks {v} is not a positive integer")));
        }
    }
    if let Some(v) = disk.get("physical_disks") {
        let ok = match v {
            Value::Array(a) => a.iter().all(Value::is_string) || (a.len() >= 2 && a.iter().all(Value::is_object)),
            _ => false,
        };
        if !ok {
            return Err(err(format!(
                "logical_disks[{i}]: physical_disks must be a list of strings or of at least 2 objects"
            )));
        }
        if !disk.contains_key("controller") {
            return Err(err(format!("logical_disks[{i}]: 'controller' is a dependency of 'physical_disks'")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> Dict {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn accepts_ironic_examples() {
        validate_target_raid_config(&cfg(json!({"logical_disks": [
            {"size_gb": 100, "raid_level": "1", "is_root_volume": true},
            {"size_gb": "MAX", "raid_level": "5", "disk_type": "ssd", "interface_type": "sas",
             "number_of_physical_disks": 3, "controller": "RAID.1", "physical_disks": ["d1", "d2", "d3"]}
        ]})))
        .unwrap();
    }

    #[test]
    fn refuses_bad_configs_with_ironic_wording() {
        let bad = [
            json!({}),
            json!({"logical_disks": []}),
            json!({"logical_disks": [{"size_gb": 10}]}),
            json!({"logical_disks": [{"raid_level": "7", "size_gb": 10}]}),
            json!({"logical_disks": [{"raid_level": "1", "size_gb": -1}]}),
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 1, "colour": "red"}]}),
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 1, "physical_disks": ["a"]}]}),
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 1, "number_of_physical_disks": 0}]}),
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 1}], "extra": 1}),
        ];
        for b in bad {
            let e = validate_target_raid_config(&cfg(b.clone())).unwrap_err();
            assert_eq!(e.http_status(), 400);
            assert!(e.to_string().starts_with("RAID config validation error"), "{b}: {e}");
        }
        let two_roots = json!({"logical_disks": [
            {"raid_level": "1", "size_gb": 1, "is_root_volume": true},
            {"raid_level": "1", "size_gb": 1, "is_root_volume": true}]});
        let e = validate_target_raid_config(&cfg(two_roots)).unwrap_err();
        assert!(e.to_string().contains("more than one root volume"), "{e}");
    }

    #[test]
    fn properties_match_the_schema() {
        let p = logical_disk_properties();
        assert_eq!(p.len(), 10);
        assert!(p["raid_level"].ends_with("Required."));
    }
}
