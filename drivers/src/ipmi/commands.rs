//! The IPMI messages ipmi-rs lacks, as plain byte encodings (IPMI v2.0 rev 1.1: §22.18 Set
//! Session Privilege Level, §22.19 Close Session, §28.2 Get Chassis Status, §28.3 Chassis
//! Control, §28.12/28.13 Set/Get System Boot Options). Pure functions, unit-tested.

pub const NETFN_CHASSIS: u8 = 0x00;
pub const NETFN_APP: u8 = 0x06;

pub const CMD_GET_CHASSIS_STATUS: u8 = 0x01;
pub const CMD_CHASSIS_CONTROL: u8 = 0x02;
pub const CMD_SET_SYSTEM_BOOT_OPTIONS: u8 = 0x08;
pub const CMD_GET_SYSTEM_BOOT_OPTIONS: u8 = 0x09;

pub const CMD_GET_DEVICE_ID: u8 = 0x01;
pub const CMD_COLD_RESET: u8 = 0x02;
pub const CMD_WARM_RESET: u8 = 0x03;
pub const CMD_SET_SESSION_PRIVILEGE: u8 = 0x3B;
pub const CMD_CLOSE_SESSION: u8 = 0x3C;
pub const CMD_GET_SESSION_INFO: u8 = 0x3D;

/// Chassis Control sub-functions (§28.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChassisControl {
    PowerDown = 0x00,
    PowerUp = 0x01,
    PowerCycle = 0x02,
    HardReset = 0x03,
    /// Pulse a diagnostic interrupt (NMI).
    DiagnosticInterrupt = 0x04,
    /// ACPI soft shutdown via overtemperature emulation.
    SoftShutdown = 0x05,
}

/// Privilege levels (`ipmi_priv_level`), as Ironic names them.
pub fn privilege_code(level: &str) -> Option<u8> {
    match level {
        "CALLBACK" => Some(0x01),
        "USER" => Some(0x02),
        "OPERATOR" => Some(0x03),
        "ADMINISTRATOR" => Some(0x04),
        _ => None,
    }
}

/// Power state from a Get Chassis Status answer (data after the completion code).
pub fn parse_chassis_status(data: &[u8]) -> Result<bool, String> {
    match data.first() {
        Some(b) => Ok(b & 0x01 == 0x01),
        None => Err("Get Chassis Status answer carries no data".into()),
    }
}

/// Boot device selector values (§28.13, boot flags data byte 2, bits 5:2), shifted in place.
fn selector(device: &str) -> Option<u8> {
    match device {
        "pxe" => Some(0x04),
        "disk" => Some(0x08),
        "safe" => Some(0x0c),
        "cdrom" => Some(0x14),
        "bios" => Some(0x18),
        _ => None,
    }
}

/// The boot devices the `ipmitool` management interface supports (Ironic's map).
pub const BOOT_DEVICES: [&str; 5] = ["pxe", "disk", "cdrom", "bios", "safe"];

/// Set System Boot Options, parameter 5 (boot flags): `[param, flags1, flags2, 0, 0, 0]`.
/// flags1: bit 7 valid, bit 6 persistent (else next boot only), bit 5 EFI boot.
pub fn set_boot_flags_request(device: &str, persistent: bool, uefi: bool) -> Option<Vec<u8>> {
    let sel = selector(device)?;
    let mut f1 = 0x80u8;
    if persistent {
        f1 |= 0x40;
    }
    if uefi {
        f1 |= 0x20;
    }
    Some(vec![0x05, f1, sel, 0x00, 0x00, 0x00])
}

/// Set System Boot Options, parameter 3 ("boot flag valid bit clearing"): don't clear the
/// flags on the 60-second timeout (Ironic's `ipmi_disable_boot_timeout`, raw `0x00 0x08 0x03 0x08`).
pub fn disable_boot_timeout_request() -> Vec<u8> {
    vec![0x03, 0x08]
}

/// Get System Boot Options, parameter 5, no set selector, no block selector.
pub fn get_boot_flags_request() -> Vec<u8> {
    vec![0x05, 0x00, 0x00]
}

/// `(device, persistent)` from a Get System Boot Options answer for parameter 5 (data after
/// the completion code: version, parameter, then the 5 flag bytes). Device `None` = no override.
pub fn parse_boot_flags(data: &[u8]) -> Result<(Option<&'static str>, bool), String> {
    if data.len() < 4 {
        return Err(format!("Get System Boot Options answer too short ({} bytes)", data.len()));
    }
    if data[1] & 0x7f != 0x05 {
        return Err(format!("Get System Boot Options answered parameter {} instead of 5", data[1] & 0x7f));
    }
    let flags1 = data[2];
    let device = match (data[3] >> 2) & 0x0f {
        0x01 => Some("pxe"),
        0x02 => Some("disk"),
        0x03 => Some("safe"),
        0x05 => Some("cdrom"),
        0x06 => Some("bios"),
        _ => None,
    };
    Ok((device, flags1 & 0x40 == 0x40))
}

/// `ipmitool raw` style bytes: `"0x00 0x01 2"` → `[0, 1, 2]` (at least netfn and command).
pub fn parse_raw_bytes(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        let v = match tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
            Some(h) => u8::from_str_radix(h, 16),
            None => tok.parse::<u8>(),
        };
        out.push(v.map_err(|_| format!("{tok:?} is not a byte"))?);
        if out.len() > 64 {
            return Err("more than 64 bytes".into());
        }
    }
    if out.len() < 2 {
        return Err("expected at least a network function and a command".into());
    }
    Ok(out)
}

/// A completion code's meaning (§5.2), for error messages.
pub fn completion_code_text(cc: u8) -> &'static str {
    match cc {
        0x00 => "success",
        0xC0 => "node busy",
        0xC1 => "invalid command",
        0xC2 => "command invalid for given LUN",
        0xC3 => "timeout while processing command",
        0xC4 => "out of space",
        0xC5 => "reservation cancelled or invalid",
        0xC6 => "request data truncated",
        0xC7 => "request data length invalid",
        0xC8 => "request data field length limit exceeded",
        0xC9 => "parameter out of range",
        0xCA => "cannot return number of requested data bytes",
        0xCB => "requested sensor, data, or record not present",
        0xCC => "invalid data field in request",
        0xCD => "command illegal for specified sensor or record type",
        0xCE => "command response could not be provided",
        0xCF => "cannot execute duplicated request",
        0xD0 => "SDR repository in update mode",
        0xD1 => "device in firmware update mode",
        0xD2 => "BMC initialization in progress",
        0xD3 => "destination unavailable",
        0xD4 => "insufficient privilege level",
        0xD5 => "command not supported in present state",
        0xD6 => "command sub-function disabled or unavailable",
        0xFF => "unspecified error",
        _ => "unknown completion code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_flags_round_trip() {
        assert_eq!(set_boot_flags_request("pxe", false, false).unwrap(), vec![5, 0x80, 0x04, 0, 0, 0]);
        assert_eq!(set_boot_flags_request("disk", true, false).unwrap(), vec![5, 0xC0, 0x08, 0, 0, 0]);
        // Ironic's raw UEFI forms: 0xa0 one-time, 0xe0 persistent.
        assert_eq!(set_boot_flags_request("pxe", false, true).unwrap()[1], 0xa0);
        assert_eq!(set_boot_flags_request("pxe", true, true).unwrap()[1], 0xe0);
        assert!(set_boot_flags_request("floppy", false, false).is_none());
        for d in BOOT_DEVICES {
            let req = set_boot_flags_request(d, true, false).unwrap();
            // An answer echoes version 1, the parameter, then the flags.
            let answer = [0x01, 0x05, req[1], req[2], 0, 0, 0];
            assert_eq!(parse_boot_flags(&answer).unwrap(), (Some(d), true));
        }
        // ipmi_sim's answer: flags byte 1 is zero (not valid, not persistent).
        assert_eq!(parse_boot_flags(&[1, 5, 0, 0x04, 0, 0, 0]).unwrap(), (Some("pxe"), false));
        assert_eq!(parse_boot_flags(&[1, 5, 0, 0x00, 0, 0, 0]).unwrap(), (None, false));
        assert!(parse_boot_flags(&[1, 5]).is_err());
        assert!(parse_boot_flags(&[1, 4, 0, 0]).is_err());
    }

    #[test]
    fn status_privileges_raw() {
        assert!(parse_chassis_status(&[0x01, 0, 0]).unwrap());
        assert!(!parse_chassis_status(&[0x60, 0, 0]).unwrap());
        assert!(parse_chassis_status(&[]).is_err());
        assert_eq!(privilege_code("ADMINISTRATOR"), Some(4));
        assert_eq!(privilege_code("admin"), None);
        assert_eq!(parse_raw_bytes("0x00 0x01").unwrap(), vec![0, 1]);
        assert_eq!(parse_raw_bytes("6 1 0xFF").unwrap(), vec![6, 1, 255]);
        assert!(parse_raw_bytes("0x00").is_err());
        assert!(parse_raw_bytes("0x00 0x100").is_err());
        assert!(parse_raw_bytes("zz 1").is_err());
    }
}
