//! The name in an NCA certificate matched with the name on an application line (DESIGN.md §4): at
//! sign-in the person must be the one the application named. Letters are compared case-insensitively
//! in Kazakh and Russian Cyrillic, with spaces collapsed and Ё read as Е (both are written for the
//! same name in registries); nothing else is relaxed.

/// A person's name as surname, given name and patronymic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
}

/// Which parts of two names differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameCheck {
    Match,
    Mismatch { fields: Vec<&'static str> },
}

fn normalized(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
        .replace('Ё', "Е")
}

impl PersonName {
    pub fn display(&self) -> String {
        match &self.patronymic {
            Some(p) if !p.trim().is_empty() => format!("{} {} {}", self.surname, self.name, p),
            _ => format!("{} {}", self.surname, self.name),
        }
    }

    /// Compares `self` (the certificate's name) with `line` (the application's).
    pub fn check_against(&self, line: &PersonName) -> NameCheck {
        let mut fields = vec![];
        if normalized(&self.surname) != normalized(&line.surname) {
            fields.push("surname");
        }
        if normalized(&self.name) != normalized(&line.name) {
            fields.push("name");
        }
        let p = |o: &Option<String>| o.as_deref().map(normalized).filter(|s| !s.is_empty());
        if p(&self.patronymic) != p(&line.patronymic) {
            fields.push("patronymic");
        }
        if fields.is_empty() {
            NameCheck::Match
        } else {
            NameCheck::Mismatch { fields }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str, g: &str, p: Option<&str>) -> PersonName {
        PersonName {
            surname: s.into(),
            name: g.into(),
            patronymic: p.map(str::to_owned),
        }
    }

    #[test]
    fn case_spaces_and_yo_do_not_matter_letters_do() {
        let cert = n("СЕЙІТОВА", "ДИНАРА", Some("БОЛАТҚЫЗЫ"));
        assert_eq!(
            cert.check_against(&n("Сейітова", " Динара ", Some("Болатқызы"))),
            NameCheck::Match
        );
        assert_eq!(
            n("ФЁДОРОВ", "ПЁТР", None).check_against(&n("Федоров", "Петр", None)),
            NameCheck::Match
        );
        // Kazakh letters are letters: І is not И, Қ is not К.
        assert_eq!(
            cert.check_against(&n("Сейитова", "Динара", Some("Болаткызы"))),
            NameCheck::Mismatch {
                fields: vec!["surname", "patronymic"]
            }
        );
        assert_eq!(
            cert.check_against(&n("Сейітова", "Динара", None)),
            NameCheck::Mismatch {
                fields: vec!["patronymic"]
            }
        );
    }

    proptest! {
        // Any change of one letter of the surname is a mismatch naming the surname.
        #[test]
        fn a_changed_letter_is_a_mismatch(s in "[А-ЯӘҒҚҢӨҰҮҺІ]{2,12}", i in 0usize..12) {
            let chars: Vec<char> = s.chars().collect();
            let i = i % chars.len();
            let mut other = chars.clone();
            other[i] = if chars[i] == 'Ж' { 'З' } else { 'Ж' };
            let other: String = other.into_iter().collect();
            let cert = n(&s, "АЙГҮЛ", None);
            prop_assert_eq!(
                cert.check_against(&n(&other, "Айгүл", None)),
                NameCheck::Mismatch { fields: vec!["surname"] }
            );
            prop_assert_eq!(cert.check_against(&n(&s.to_lowercase(), "айгүл", None)), NameCheck::Match);
        }
    }
}
