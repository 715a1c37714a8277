//! Recertification campaigns (issue 17): a year of access is granted once (Order 270 §9), but the
//! organization's head confirms, campaign by campaign, that each person still needs it — the access
//! reviews midPoint and Entra ID Governance run. A campaign holds one line per grant live at its
//! opening; each line is confirmed or withdrawn by the head's signed answer, and a line still
//! unanswered when the campaign's deadline passes is blocked.

use serde::{Deserialize, Serialize};

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Lines wait for the head's answers (the deadline runs).
    Open,
    /// Every line answered, or the deadline passed and the unanswered lines were blocked.
    Closed,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Open => "open",
            CampaignStatus::Closed => "closed",
        }
    }
}

/// The head's answer on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecertificationDecision {
    /// The person still needs the access: the grant stays as it is.
    Confirm,
    /// The person no longer needs it: the grant ends at once (`revoked`) and their sessions end.
    Withdraw,
}

impl RecertificationDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            RecertificationDecision::Confirm => "confirm",
            RecertificationDecision::Withdraw => "withdraw",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Confirm, Self::Withdraw]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOutcome {
    /// Waiting for the head's answer.
    Pending,
    Confirmed,
    Withdrawn,
    /// Not answered by the deadline: the grant was blocked.
    Blocked,
    /// Not answered, but the grant had ended otherwise (expiry, an HR event, a revocation) before the
    /// deadline: nothing left to block.
    Ended,
}

impl LineOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LineOutcome::Pending => "pending",
            LineOutcome::Confirmed => "confirmed",
            LineOutcome::Withdrawn => "withdrawn",
            LineOutcome::Blocked => "blocked",
            LineOutcome::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Confirmed,
            Self::Withdrawn,
            Self::Blocked,
            Self::Ended,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The head's answer applies to a pending line only: a line is answered once.
    pub fn answer(self, d: RecertificationDecision) -> Option<LineOutcome> {
        match (self, d) {
            (LineOutcome::Pending, RecertificationDecision::Confirm) => {
                Some(LineOutcome::Confirmed)
            }
            (LineOutcome::Pending, RecertificationDecision::Withdraw) => {
                Some(LineOutcome::Withdrawn)
            }
            _ => None,
        }
    }

    /// The deadline passed: a pending line is blocked if its grant is still live, else it ended
    /// otherwise; an answered line stays as answered.
    pub fn at_deadline(self, grant_live: bool) -> LineOutcome {
        match self {
            LineOutcome::Pending if grant_live => LineOutcome::Blocked,
            LineOutcome::Pending => LineOutcome::Ended,
            other => other,
        }
    }
}

/// `[recertification]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecertificationRules {
    /// The head answers by the end of this many working days after the day the campaign opens.
    pub answer_working_days: u32,
    /// Heads with unanswered lines are reminded once when this many working days or fewer remain.
    pub remind_working_days_before: u32,
    /// Open a campaign on schedule for each organization whose last campaign (or, without one, its
    /// oldest live grant) is this many months old; 0: only the integrator opens campaigns.
    pub every_months: u32,
}

impl Default for RecertificationRules {
    fn default() -> Self {
        RecertificationRules {
            answer_working_days: 10,
            remind_working_days_before: 3,
            every_months: 0,
        }
    }
}

impl RecertificationRules {
    /// Names a wrong value (checked at start-up).
    pub fn check(&self) -> Result<(), String> {
        if self.answer_working_days == 0 || self.answer_working_days > 60 {
            return Err("[recertification] answer_working_days is 1 to 60".into());
        }
        if self.every_months > 120 {
            return Err("[recertification] every_months is 0 (off) to 120".into());
        }
        Ok(())
    }

    /// The working days after the opening day at whose end the reminder goes out: the deadline's
    /// day minus `remind_working_days_before`, or the opening day itself when that leaves none.
    pub fn remind_after_working_days(&self) -> u32 {
        self.answer_working_days
            .saturating_sub(self.remind_working_days_before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_answered_once_and_blocked_only_when_unanswered() {
        use LineOutcome::*;
        use RecertificationDecision::*;
        assert_eq!(Pending.answer(Confirm), Some(Confirmed));
        assert_eq!(Pending.answer(Withdraw), Some(Withdrawn));
        for done in [Confirmed, Withdrawn, Blocked, Ended] {
            assert_eq!(done.answer(Confirm), None, "{done:?}");
            assert_eq!(done.answer(Withdraw), None, "{done:?}");
            assert_eq!(done.at_deadline(true), done, "{done:?}");
        }
        assert_eq!(Pending.at_deadline(true), Blocked);
        assert_eq!(Pending.at_deadline(false), Ended);
        for o in [Pending, Confirmed, Withdrawn, Blocked, Ended] {
            assert_eq!(LineOutcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn rules_are_checked_and_the_reminder_falls_before_the_deadline() {
        let r = RecertificationRules::default();
        assert_eq!(r.check(), Ok(()));
        assert_eq!(r.remind_after_working_days(), 7);
        let short = RecertificationRules {
            answer_working_days: 2,
            ..r.clone()
        };
        assert_eq!(short.remind_after_working_days(), 0, "remind at once");
        let zero = RecertificationRules {
            answer_working_days: 0,
            ..r
        };
        assert!(zero.check().is_err());
    }
}
