//! Kazakh identification numbers: IIN (individuals) and BIN (legal entities).
//!
//! Both are 12 digits with a check digit (Government resolution No. 565 of 11.06.2003):
//! c = Σ a_i·i (i = 1..11) mod 11; if c = 10, c = Σ a_i·w_i mod 11 with w = 3..11,1,2;
//! if c is 10 again the number is never issued and is rejected (returning 0 is a known wrong shortcut).

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The exact rule an identifier broke; `rule()` is the stable slug used in API errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be exactly 12 characters, got {0}")]
    Length(usize),
    #[error("must contain digits only")]
    Digits,
    #[error("check digit does not match")]
    CheckDigit,
    #[error("check digit is 10 in both passes: such a number is never issued")]
    NeverIssued,
    #[error("digit 7 (century and sex) must be 1 to 6, got {0}")]
    Century(u8),
    #[error("digits 1 to 6 are not a real date of birth")]
    BirthDate,
    #[error("digit 5 (type) must be 4, 5 or 6 for a BIN, got {0}")]
    BinType(u8),
    #[error("digit 6 (attribute) must be 0 to 3 for a BIN, got {0}")]
    BinAttribute(u8),
    #[error("digits 3 and 4 (month of registration) must be 01 to 12")]
    BinMonth,
}

impl IdError {
    pub fn rule(&self) -> &'static str {
        match self {
            IdError::Length(_) => "length",
            IdError::Digits => "digits",
            IdError::CheckDigit => "check_digit",
            IdError::NeverIssued => "never_issued",
            IdError::Century(_) => "century_digit",
            IdError::BirthDate => "birth_date",
            IdError::BinType(_) => "bin_type_digit",
            IdError::BinAttribute(_) => "bin_attribute_digit",
            IdError::BinMonth => "bin_month",
        }
    }
}

fn digits12(s: &str) -> Result<[u8; 12], IdError> {
    let count = s.chars().count();
    if count != 12 {
        return Err(IdError::Length(count));
    }
    let mut out = [0u8; 12];
    for (slot, b) in out.iter_mut().zip(s.bytes()) {
        if !b.is_ascii_digit() {
            return Err(IdError::Digits);
        }
        *slot = b - b'0';
    }
    Ok(out)
}

/// The check digit of the first 11 digits, or `NeverIssued` when both passes give 10.
pub fn check_digit(d: &[u8; 12]) -> Result<u8, IdError> {
    let first: u32 = (0..11)
        .map(|i| u32::from(d[i]) * (i as u32 + 1))
        .sum::<u32>()
        % 11;
    if first != 10 {
        return Ok(first as u8);
    }
    const W2: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let second: u32 = (0..11).map(|i| u32::from(d[i]) * W2[i]).sum::<u32>() % 11;
    if second == 10 {
        return Err(IdError::NeverIssued);
    }
    Ok(second as u8)
}

fn checked(s: &str) -> Result<[u8; 12], IdError> {
    let d = digits12(s)?;
    if check_digit(&d)? != d[11] {
        return Err(IdError::CheckDigit);
    }
    Ok(d)
}

macro_rules! id_newtype_common {
    ($t:ident) => {
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $t {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Individual identification number: YYMMDD of birth, century/sex digit, serial, check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin(String);

impl Iin {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let d = checked(s)?;
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            other => return Err(IdError::Century(other)),
        };
        let year = century + i16::from(d[0] * 10 + d[1]);
        let month = (d[2] * 10 + d[3]) as i8;
        let day = (d[4] * 10 + d[5]) as i8;
        Date::new(year, month, day).map_err(|_| IdError::BirthDate)?;
        Ok(Iin(s.to_owned()))
    }

    pub fn birth_date(&self) -> Option<Date> {
        let d = digits12(&self.0).ok()?;
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            _ => 2000,
        };
        Date::new(
            century + i16::from(d[0] * 10 + d[1]),
            (d[2] * 10 + d[3]) as i8,
            (d[4] * 10 + d[5]) as i8,
        )
        .ok()
    }
}
id_newtype_common!(Iin);

/// Business identification number: YYMM of registration, type digit, attribute digit, serial, check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bin(String);

impl Bin {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let d = checked(s)?;
        let month = d[2] * 10 + d[3];
        if !(1..=12).contains(&month) {
            return Err(IdError::BinMonth);
        }
        if !(4..=6).contains(&d[4]) {
            return Err(IdError::BinType(d[4]));
        }
        if d[5] > 3 {
            return Err(IdError::BinAttribute(d[5]));
        }
        Ok(Bin(s.to_owned()))
    }
}
id_newtype_common!(Bin);

/// Computes the check digit for 11 digits; used by the demo and tests to make valid numbers.
/// Returns None when the prefix can never be completed into an issued number.
pub fn complete_with_check_digit(prefix11: &str) -> Option<String> {
    let mut d = [0u8; 12];
    if prefix11.len() != 11 {
        return None;
    }
    for (i, b) in prefix11.bytes().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        d[i] = b - b'0';
    }
    let c = check_digit(&d).ok()?;
    Some(format!("{prefix11}{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_iin_vectors() {
        for s in [
            "871008401427",
            "760212350620",
            "800416300257",
            "680503450037",
            "850712300801",
        ] {
            assert!(Iin::parse(s).is_ok(), "{s} should be valid");
        }
        assert_eq!(
            Iin::parse("871008401427").ok().and_then(|i| i.birth_date()),
            Date::new(1987, 10, 8).ok()
        );
    }

    #[test]
    fn second_pass_is_needed_for_850712300801() {
        let d = digits12("850712300801").unwrap_or([0; 12]);
        let first: u32 = (0..11)
            .map(|i| u32::from(d[i]) * (i as u32 + 1))
            .sum::<u32>()
            % 11;
        assert_eq!(first, 10, "this vector exercises the second pass");
        assert!(Iin::parse("850712300801").is_ok());
    }

    #[test]
    fn never_issued_number_is_rejected() {
        assert_eq!(Iin::parse("821214240092"), Err(IdError::NeverIssued));
        assert_eq!(Bin::parse("821214240092"), Err(IdError::NeverIssued));
    }

    #[test]
    fn real_bin_vectors() {
        for s in [
            "940140000385",
            "950341000052",
            "961141000023",
            "070941024691",
        ] {
            assert!(Bin::parse(s).is_ok(), "{s} should be valid");
        }
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(Iin::parse("87100840142"), Err(IdError::Length(11)));
        assert_eq!(Iin::parse("87100840142a"), Err(IdError::Digits));
        assert_eq!(Iin::parse("871008401428"), Err(IdError::CheckDigit));
        // Century digit 7 with a correct check digit.
        let bad_century = complete_with_check_digit("87100870142").unwrap_or_default();
        assert_eq!(Iin::parse(&bad_century), Err(IdError::Century(7)));
        let bad_date = complete_with_check_digit("87133040142").unwrap_or_default();
        assert_eq!(Iin::parse(&bad_date), Err(IdError::BirthDate));
        // An IIN is not a BIN: digit 5 of 871008401427 is 0.
        assert_eq!(Bin::parse("871008401427"), Err(IdError::BinType(0)));
        let bin_type = complete_with_check_digit("94013000038").unwrap_or_default();
        assert_eq!(Bin::parse(&bin_type), Err(IdError::BinType(3)));
        let bin_attr = complete_with_check_digit("94014700038").unwrap_or_default();
        assert_eq!(Bin::parse(&bin_attr), Err(IdError::BinAttribute(7)));
    }

    proptest! {
        #[test]
        fn changing_the_check_digit_breaks_a_valid_number(delta in 1u8..10, which in 0usize..3) {
            let s = ["871008401427", "850712300801", "940140000385"][which];
            let mut b = s.as_bytes().to_vec();
            b[11] = b'0' + (b[11] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).unwrap_or_default();
            prop_assert_eq!(checked(&changed).err(), Some(IdError::CheckDigit));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = Iin::parse(&s);
            let _ = Bin::parse(&s);
        }

        #[test]
        fn completed_numbers_round_trip(prefix in "[0-9]{11}") {
            if let Some(full) = complete_with_check_digit(&prefix) {
                let d = digits12(&full).unwrap_or([0; 12]);
                prop_assert_eq!(check_digit(&d), Ok(d[11]));
            }
        }
    }
}
