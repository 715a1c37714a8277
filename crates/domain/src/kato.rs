//! KATO territory codes (9 digits): AB region, CD district, EF rural district, HIJ settlement.
//!
//! "Inside T" compares the prefix of T's *level* (2, 4 or 6 digits), never a prefix made by stripping
//! trailing zeros: district 194000000 must not match its siblings 1941…–1949….

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KatoLevel {
    Region,
    District,
    RuralDistrict,
    Settlement,
}

impl KatoLevel {
    pub fn prefix_len(self) -> usize {
        match self {
            KatoLevel::Region => 2,
            KatoLevel::District => 4,
            KatoLevel::RuralDistrict => 6,
            KatoLevel::Settlement => 9,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KatoError {
    #[error("must be exactly 9 digits")]
    Format,
    #[error("digits 1 and 2 are not one of the 20 regions")]
    UnknownRegion,
}

impl KatoError {
    pub fn rule(&self) -> &'static str {
        match self {
            KatoError::Format => "kato_format",
            KatoError::UnknownRegion => "kato_region",
        }
    }
}

/// One of the 20 regions (17 oblasts and 3 cities of republican significance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub code: &'static str,
    pub name_kk: &'static str,
    pub name_ru: &'static str,
    pub name_en: &'static str,
    /// Astana, Almaty, Shymkent: cities of republican significance (and the capital).
    pub republican_city: bool,
}

/// The KATO reference of the 20 regions, shipped with the binary (FACTS.md, "Territories").
pub const REGIONS: [Region; 20] = [
    Region {
        code: "100000000",
        name_kk: "Абай облысы",
        name_ru: "Абайская область",
        name_en: "Abai Region",
        republican_city: false,
    },
    Region {
        code: "110000000",
        name_kk: "Ақмола облысы",
        name_ru: "Акмолинская область",
        name_en: "Akmola Region",
        republican_city: false,
    },
    Region {
        code: "150000000",
        name_kk: "Ақтөбе облысы",
        name_ru: "Актюбинская область",
        name_en: "Aktobe Region",
        republican_city: false,
    },
    Region {
        code: "190000000",
        name_kk: "Алматы облысы",
        name_ru: "Алматинская область",
        name_en: "Almaty Region",
        republican_city: false,
    },
    Region {
        code: "230000000",
        name_kk: "Атырау облысы",
        name_ru: "Атырауская область",
        name_en: "Atyrau Region",
        republican_city: false,
    },
    Region {
        code: "270000000",
        name_kk: "Батыс Қазақстан облысы",
        name_ru: "Западно-Казахстанская область",
        name_en: "West Kazakhstan Region",
        republican_city: false,
    },
    Region {
        code: "310000000",
        name_kk: "Жамбыл облысы",
        name_ru: "Жамбылская область",
        name_en: "Zhambyl Region",
        republican_city: false,
    },
    Region {
        code: "330000000",
        name_kk: "Жетісу облысы",
        name_ru: "Область Жетісу",
        name_en: "Zhetisu Region",
        republican_city: false,
    },
    Region {
        code: "350000000",
        name_kk: "Қарағанды облысы",
        name_ru: "Карагандинская область",
        name_en: "Karaganda Region",
        republican_city: false,
    },
    Region {
        code: "390000000",
        name_kk: "Қостанай облысы",
        name_ru: "Костанайская область",
        name_en: "Kostanay Region",
        republican_city: false,
    },
    Region {
        code: "430000000",
        name_kk: "Қызылорда облысы",
        name_ru: "Кызылординская область",
        name_en: "Kyzylorda Region",
        republican_city: false,
    },
    Region {
        code: "470000000",
        name_kk: "Маңғыстау облысы",
        name_ru: "Мангистауская область",
        name_en: "Mangystau Region",
        republican_city: false,
    },
    Region {
        code: "550000000",
        name_kk: "Павлодар облысы",
        name_ru: "Павлодарская область",
        name_en: "Pavlodar Region",
        republican_city: false,
    },
    Region {
        code: "590000000",
        name_kk: "Солтүстік Қазақстан облысы",
        name_ru: "Северо-Казахстанская область",
        name_en: "North Kazakhstan Region",
        republican_city: false,
    },
    Region {
        code: "610000000",
        name_kk: "Түркістан облысы",
        name_ru: "Туркестанская область",
        name_en: "Turkistan Region",
        republican_city: false,
    },
    Region {
        code: "620000000",
        name_kk: "Ұлытау облысы",
        name_ru: "Область Ұлытау",
        name_en: "Ulytau Region",
        republican_city: false,
    },
    Region {
        code: "630000000",
        name_kk: "Шығыс Қазақстан облысы",
        name_ru: "Восточно-Казахстанская область",
        name_en: "East Kazakhstan Region",
        republican_city: false,
    },
    Region {
        code: "710000000",
        name_kk: "Астана қаласы",
        name_ru: "город Астана",
        name_en: "Astana city",
        republican_city: true,
    },
    Region {
        code: "750000000",
        name_kk: "Алматы қаласы",
        name_ru: "город Алматы",
        name_en: "Almaty city",
        republican_city: true,
    },
    Region {
        code: "790000000",
        name_kk: "Шымкент қаласы",
        name_ru: "город Шымкент",
        name_en: "Shymkent city",
        republican_city: true,
    },
];

/// A 9-digit KATO code whose region is one of the 20.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kato(String);

impl Kato {
    pub fn parse(s: &str) -> Result<Self, KatoError> {
        if s.len() != 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KatoError::Format);
        }
        if !REGIONS.iter().any(|r| r.code[..2] == s[..2]) {
            return Err(KatoError::UnknownRegion);
        }
        Ok(Kato(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> KatoLevel {
        let s = &self.0;
        if s[2..] == *"0000000" {
            KatoLevel::Region
        } else if s[4..] == *"00000" {
            KatoLevel::District
        } else if s[6..] == *"000" {
            KatoLevel::RuralDistrict
        } else {
            KatoLevel::Settlement
        }
    }

    /// The digits that every territory inside this one shares, by this code's level.
    pub fn level_prefix(&self) -> &str {
        &self.0[..self.level().prefix_len()]
    }

    /// True when `other` is this territory or lies inside it.
    pub fn contains(&self, other: &Kato) -> bool {
        other.0.starts_with(self.level_prefix())
    }

    pub fn region(&self) -> Option<&'static Region> {
        REGIONS.iter().find(|r| r.code[..2] == self.0[..2])
    }
}

impl fmt::Display for Kato {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Kato {
    type Err = KatoError;
    fn from_str(s: &str) -> Result<Self, KatoError> {
        Kato::parse(s)
    }
}

impl Serialize for Kato {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Kato {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kato::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A code the test means to be valid: a parse error fails the test instead of standing in as a
    /// made-up code.
    fn k(s: &str) -> Kato {
        match Kato::parse(s) {
            Ok(k) => k,
            Err(e) => panic!("test code {s} does not parse: {e}"),
        }
    }

    #[test]
    fn twenty_regions_with_unique_codes() {
        let mut codes: Vec<_> = REGIONS.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 20);
        assert!(
            REGIONS
                .iter()
                .all(|r| k(r.code).level() == KatoLevel::Region)
        );
    }

    #[test]
    fn levels_and_rejections() {
        assert_eq!(k("194000000").level(), KatoLevel::District);
        assert_eq!(k("194230000").level(), KatoLevel::RuralDistrict);
        assert_eq!(k("194230100").level(), KatoLevel::Settlement);
        assert_eq!(Kato::parse("12345678"), Err(KatoError::Format));
        assert_eq!(Kato::parse("990000000"), Err(KatoError::UnknownRegion));
    }

    #[test]
    fn district_does_not_contain_its_siblings() {
        // Stripping trailing zeros from 194000000 would give "194", which matches 1941…–1949….
        let district = k("194000000");
        assert!(district.contains(&k("194030000")));
        assert!(!district.contains(&k("194100000")));
        assert!(!district.contains(&k("194900000")));
        assert!(district.contains(&k("194000000")));
        assert!(k("190000000").contains(&k("194900000")));
        assert!(!k("750000000").contains(&k("710000000")));
    }

    proptest! {
        #[test]
        fn contains_is_prefix_of_level(a in "(19|75)[0-9]{2}0{5}", b in "(19|75)[0-9]{4}0{3}") {
            let (a, b) = (k(&a), k(&b));
            let expected = a.as_str()[..a.level().prefix_len()] == b.as_str()[..a.level().prefix_len()];
            prop_assert_eq!(a.contains(&b), expected);
        }
    }
}
