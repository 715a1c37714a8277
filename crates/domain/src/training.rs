//! Online lessons (Order 270 §12–§13): data the integrator edits, not code. A lesson is a TOML file —
//! its system, version and pass mark, steps of text (and a picture) and questions with choices — in
//! Kazakh and Russian side by side, so that neither language can lack a step or a question. A file
//! that breaks a rule is refused naming the file, the line and the rule (`qoljetim lessons check`).
//!
//! ```toml
//! id = "analytical-central"
//! version = 1
//! system = "analytical_central"
//! pass_percent = 80
//! title_kk = "…"
//! title_ru = "…"
//!
//! [[step]]
//! kk = "…"
//! ru = "…"
//! image = "docs/images/08-employee-explorer-by-program.png"   # optional
//!
//! [[question]]
//! kk = "…"
//! ru = "…"
//! choices_kk = ["…", "…", "…"]
//! choices_ru = ["…", "…", "…"]
//! correct = 2            # the right choice, counted from 1
//! ```

use serde::Deserialize;
use toml::Spanned;

use crate::org::System;

/// The version of the §15 duties' text below: raised when the text changes (an acceptance records the
/// version it accepted).
pub const DUTIES_VERSION: u32 = 1;

/// Order 270 §15, the duties a user accepts before the first data read of each new grant: Kazakh,
/// Russian, English. The first three are the user's own; the last is their state body's.
pub const DUTIES: [(&str, &str, &str); 4] = [
    (
        "Жүйелерден алынған деректерді үшінші тұлғаларға бермеймін.",
        "Я не передаю данные, полученные из систем, третьим лицам.",
        "I do not pass data obtained from the systems to third parties.",
    ),
    (
        "Жүйелермен жұмыс істеу үшін жеке ақпараттық құрылғыларды пайдаланбаймын.",
        "Я не использую личные информационные устройства для работы с системами.",
        "I do not use personal information devices to work with the systems.",
    ),
    (
        "Логиндерімді, құпиясөздерімді және электрондық цифрлық қолтаңбамды басқа адамдарға бермеймін.",
        "Я не передаю другим лицам логины, пароли и электронную цифровую подпись.",
        "I do not hand over my logins, passwords or digital signature to anyone.",
    ),
    (
        "Менің мемлекеттік органым сертификатталған құралдар мен вирусқа қарсы бағдарламалар туралы заңнаманы, \
         АКТ және ақпараттық қауіпсіздік саласындағы бірыңғай талаптарды (ҚР Үкіметінің 2016 жылғы \
         20 желтоқсандағы № 832 қаулысы) және таратылуы шектелген ақпаратпен жұмыс істеу қағидаларын сақтайды.",
        "Мой государственный орган соблюдает законодательство о сертифицированных средствах и антивирусном \
         программном обеспечении, единые требования в области ИКТ и информационной безопасности \
         (постановление Правительства РК от 20 декабря 2016 года № 832) и правила обращения со сведениями \
         ограниченного распространения.",
        "My state body keeps to the law on certified devices and anti-virus software, the uniform ICT and \
         information-security requirements (Government decree No. 832 of 20 December 2016) and the rules \
         for restricted information.",
    ),
];

/// The duties in one language (`kk`, `ru`, otherwise English).
pub fn duties(language: &str) -> Vec<&'static str> {
    DUTIES
        .iter()
        .map(|(kk, ru, en)| match language {
            "kk" => *kk,
            "ru" => *ru,
            _ => *en,
        })
        .collect()
}

/// Order 270 §13: the integrator reports on each held session within this many working days.
pub const REPORT_WORKING_DAYS: u32 = 5;

/// Fewer questions do not tell whether a person can work on their own (issue 16).
pub const MIN_QUESTIONS: usize = 5;

/// A lesson file that breaks a rule: where, and which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LessonError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// One text in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bilingual {
    pub kk: String,
    pub ru: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonStep {
    pub text: Bilingual,
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonQuestion {
    pub text: Bilingual,
    pub choices: Vec<Bilingual>,
    /// The right choice, counted from 0.
    pub correct: usize,
}

/// A checked lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    pub id: String,
    pub version: u32,
    pub system: System,
    pub pass_percent: u8,
    pub title: Bilingual,
    pub steps: Vec<LessonStep>,
    pub questions: Vec<LessonQuestion>,
}

/// How one attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LessonScore {
    pub correct: usize,
    pub total: usize,
    pub percent: u8,
    pub passed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLesson {
    id: Spanned<String>,
    version: Spanned<u32>,
    system: Spanned<String>,
    pass_percent: Spanned<u8>,
    title_kk: Spanned<String>,
    title_ru: Spanned<String>,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
    #[serde(default)]
    question: Vec<Spanned<RawQuestion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    kk: Spanned<String>,
    ru: Spanned<String>,
    image: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    kk: Spanned<String>,
    ru: Spanned<String>,
    choices_kk: Spanned<Vec<String>>,
    choices_ru: Spanned<Vec<String>>,
    correct: Spanned<usize>,
}

impl Lesson {
    /// Parses and checks a lesson file; every refusal names the file and the line.
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let line_at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let fail = |offset: usize, message: String| LessonError {
            file: file.to_owned(),
            line: line_at(offset),
            message,
        };
        let raw: RawLesson = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            fail(offset, e.message().to_owned())
        })?;
        let id = raw.id.get_ref().trim().to_owned();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(fail(
                raw.id.span().start,
                "id: lowercase letters, digits and hyphens".into(),
            ));
        }
        let system = raw.system.get_ref().parse::<System>().map_err(|_| {
            fail(
                raw.system.span().start,
                format!(
                    "unknown system {:?}: analytical_central or state_planning",
                    raw.system.get_ref()
                ),
            )
        })?;
        if *raw.version.get_ref() == 0 {
            return Err(fail(raw.version.span().start, "version: from 1".into()));
        }
        let pass_percent = *raw.pass_percent.get_ref();
        if !(1..=100).contains(&pass_percent) {
            return Err(fail(
                raw.pass_percent.span().start,
                "pass_percent: from 1 to 100".into(),
            ));
        }
        let both = |kk: &Spanned<String>, ru: &Spanned<String>, what: &str| {
            for (t, lang) in [(kk, "kk"), (ru, "ru")] {
                if t.get_ref().trim().is_empty() {
                    return Err(fail(
                        t.span().start,
                        format!("{what}: the {lang} text is empty"),
                    ));
                }
            }
            Ok(Bilingual {
                kk: kk.get_ref().trim().to_owned(),
                ru: ru.get_ref().trim().to_owned(),
            })
        };
        let title = both(&raw.title_kk, &raw.title_ru, "title")?;
        if raw.step.is_empty() {
            return Err(fail(0, "a lesson has at least one [[step]]".into()));
        }
        let mut steps = vec![];
        for (n, s) in raw.step.iter().enumerate() {
            let s = s.get_ref();
            steps.push(LessonStep {
                text: both(&s.kk, &s.ru, &format!("step {}", n + 1))?,
                image: s.image.clone().filter(|i| !i.trim().is_empty()),
            });
        }
        if raw.question.len() < MIN_QUESTIONS {
            return Err(fail(
                raw.question.last().map(|q| q.span().start).unwrap_or(0),
                format!(
                    "{} question(s): a lesson has at least {MIN_QUESTIONS}",
                    raw.question.len()
                ),
            ));
        }
        let mut questions = vec![];
        for (n, q) in raw.question.iter().enumerate() {
            let q = q.get_ref();
            let what = format!("question {}", n + 1);
            let text = both(&q.kk, &q.ru, &what)?;
            let (kk, ru) = (q.choices_kk.get_ref(), q.choices_ru.get_ref());
            if kk.len() != ru.len() {
                return Err(fail(
                    q.choices_ru.span().start,
                    format!(
                        "{what}: {} choices in Kazakh, {} in Russian",
                        kk.len(),
                        ru.len()
                    ),
                ));
            }
            if kk.len() < 2 {
                return Err(fail(
                    q.choices_kk.span().start,
                    format!("{what}: at least two choices"),
                ));
            }
            if let Some((i, _)) = kk
                .iter()
                .zip(ru)
                .enumerate()
                .find(|(_, (a, b))| a.trim().is_empty() || b.trim().is_empty())
            {
                return Err(fail(
                    q.choices_kk.span().start,
                    format!("{what}: choice {} is empty in a language", i + 1),
                ));
            }
            let correct = *q.correct.get_ref();
            if correct == 0 || correct > kk.len() {
                return Err(fail(
                    q.correct.span().start,
                    format!(
                        "{what}: correct must name one of its {} choices (from 1)",
                        kk.len()
                    ),
                ));
            }
            questions.push(LessonQuestion {
                text,
                choices: kk
                    .iter()
                    .zip(ru)
                    .map(|(a, b)| Bilingual {
                        kk: a.trim().to_owned(),
                        ru: b.trim().to_owned(),
                    })
                    .collect(),
                correct: correct - 1,
            });
        }
        Ok(Lesson {
            id,
            version: *raw.version.get_ref(),
            system,
            pass_percent,
            title,
            steps,
            questions,
        })
    }

    /// Scores an attempt: `answers[i]` is the chosen choice of question `i` (counted from 0). An
    /// attempt answers every question; a choice out of range counts as wrong.
    pub fn score(&self, answers: &[usize]) -> Result<LessonScore, String> {
        if answers.len() != self.questions.len() {
            return Err(format!(
                "{} answers for {} questions",
                answers.len(),
                self.questions.len()
            ));
        }
        let correct = self
            .questions
            .iter()
            .zip(answers)
            .filter(|(q, a)| q.correct == **a)
            .count();
        let total = self.questions.len();
        let percent = u8::try_from(correct * 100 / total.max(1)).unwrap_or(100);
        Ok(LessonScore {
            correct,
            total,
            percent,
            passed: percent >= self.pass_percent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(n: usize, correct: usize) -> String {
        format!(
            "[[question]]\nkk = \"С{n}\"\nru = \"В{n}\"\nchoices_kk = [\"а\", \"ә\", \"б\"]\nchoices_ru = [\"а\", \"б\", \"в\"]\ncorrect = {correct}\n"
        )
    }

    fn lesson(questions: usize) -> String {
        let mut s = String::from(
            "id = \"analytical-central\"\nversion = 1\nsystem = \"analytical_central\"\npass_percent = 80\n\
             title_kk = \"Сабақ\"\ntitle_ru = \"Урок\"\n\n[[step]]\nkk = \"Қадам\"\nru = \"Шаг\"\n\n",
        );
        for n in 0..questions {
            s.push_str(&question(n + 1, 2));
        }
        s
    }

    // Order 270 §12: a lesson in both languages, with questions whose answers are checked.
    #[test]
    fn a_lesson_parses_and_scores_at_its_pass_mark() {
        let l = Lesson::parse("l.toml", &lesson(5)).unwrap();
        assert_eq!(
            (l.system, l.questions.len(), l.pass_percent),
            (System::AnalyticalCentral, 5, 80)
        );
        assert_eq!(l.questions[0].correct, 1);
        assert_eq!(
            l.questions[0].choices[1],
            Bilingual {
                kk: "ә".into(),
                ru: "б".into()
            }
        );
        let four = l.score(&[1, 1, 1, 1, 0]).unwrap();
        assert_eq!((four.correct, four.percent, four.passed), (4, 80, true));
        let three = l.score(&[1, 1, 1, 0, 0]).unwrap();
        assert_eq!((three.percent, three.passed), (60, false));
        assert!(l.score(&[1, 1]).is_err(), "every question is answered");
        assert!(!l.score(&[9, 9, 9, 9, 9]).unwrap().passed);
    }

    // Issue 16: a broken lesson file is refused naming the line and the rule.
    #[test]
    fn a_broken_lesson_is_refused_naming_the_line() {
        let line_of =
            |text: &str, needle: &str| text[..text.find(needle).unwrap()].matches('\n').count() + 1;
        let too_few = lesson(4);
        let e = Lesson::parse("l.toml", &too_few).unwrap_err();
        assert!(e.message.contains("at least 5"), "{e}");
        let wrong = lesson(5).replacen("correct = 2", "correct = 4", 1);
        let e = Lesson::parse("l.toml", &wrong).unwrap_err();
        assert_eq!(e.line, line_of(&wrong, "correct = 4"), "{e}");
        assert!(
            e.message
                .contains("question 1: correct must name one of its 3 choices"),
            "{e}"
        );
        let uneven = lesson(5).replacen(
            "choices_ru = [\"а\", \"б\", \"в\"]",
            "choices_ru = [\"а\", \"б\"]",
            1,
        );
        let e = Lesson::parse("l.toml", &uneven).unwrap_err();
        assert!(
            e.message.contains("3 choices in Kazakh, 2 in Russian"),
            "{e}"
        );
        let no_ru = lesson(5).replacen("ru = \"Шаг\"", "ru = \"  \"", 1);
        let e = Lesson::parse("l.toml", &no_ru).unwrap_err();
        assert_eq!(e.line, line_of(&no_ru, "ru = \"  \""), "{e}");
        assert!(e.message.contains("step 1: the ru text is empty"), "{e}");
        let unknown = lesson(5).replace("analytical_central", "payroll");
        let e = Lesson::parse("l.toml", &unknown).unwrap_err();
        assert!(e.message.contains("unknown system \"payroll\""), "{e}");
        let typo = lesson(5).replacen("kk = \"Қадам\"", "kz = \"Қадам\"", 1);
        let e = Lesson::parse("l.toml", &typo).unwrap_err();
        assert!(e.message.contains("unknown field `kz`"), "{e}");
        assert_eq!(e.to_string().split(':').next(), Some("l.toml"));
    }

    // The lessons shipped in `lessons/`: each system has one, each passes every rule.
    #[test]
    fn the_shipped_lessons_pass_every_rule() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lessons");
        let mut systems = vec![];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let l = Lesson::parse(&path.display().to_string(), &text)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(l.questions.len() >= MIN_QUESTIONS);
                systems.push(l.system);
            }
        }
        systems.sort_by_key(|s| s.as_str());
        assert_eq!(
            systems,
            vec![System::AnalyticalCentral, System::StatePlanning]
        );
    }
}
