//! The manuals (Order 270 §7, §12): which version of a manual a reader last read, so its page shows
//! what changed since; each read is audited.

use qoljetim_store::{Change, TrainingChange};
use serde_json::json;

use crate::audit::Attempt;
use crate::error::{ServiceError, ServiceResult};
use crate::toolbox::*;
use crate::{Caller, Service};

impl Service {
    /// Records that the caller read `version` of `manual`; answers the version read before (None:
    /// never), whose later changes the page shows.
    pub async fn read_manual(
        &self,
        caller: &Caller,
        manual: &str,
        version: u32,
    ) -> ServiceResult<Option<u32>> {
        let attempt = Attempt::default();
        let r = async {
            attempt.begin_for(
                caller,
                caller_entry(
                    caller,
                    "read_manual",
                    format!("manual/{manual}"),
                    &allowed(vec![]),
                ),
            );
            let before = self
                .store
                .manual_read(caller.actor.iin.as_str(), caller.actor.bin.as_str(), manual)
                .await
                .map_err(ServiceError::store)?
                .and_then(|v| u32::try_from(v).ok());
            attempt.update(|e| e.details = json!({"version": version, "read_before": before}));
            self.commit(
                &attempt,
                Change::Training(Box::new(TrainingChange::ManualRead {
                    iin: caller.actor.iin.to_string(),
                    bin: caller.actor.bin.to_string(),
                    manual: manual.to_owned(),
                    version: i64::from(version),
                    at: caller.now,
                })),
            )
            .await?;
            Ok(before)
        }
        .await;
        self.settle(attempt, r).await
    }
}
