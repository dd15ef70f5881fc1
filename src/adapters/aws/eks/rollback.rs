//! The EKS calls of 2026 that keelson's upgrades use: CancelUpdate (stop an Auto Mode
//! node rollback), StartInsightsRefresh and DescribeInsightsRefresh (fresh insights
//! before a gate is judged).
//!
//! ```text
//!  cancel_update ─────────────► CancelUpdate ─► Update (Cancelled once EKS stops it)
//!  start_insights_refresh ────► StartInsightsRefresh ─┐
//!  describe_insights_refresh ─► DescribeInsightsRefresh ┴► InsightsRefresh
//! ```
//!
//! Shapes: aws-sdk-eks `operation::cancel_update`, `operation::start_insights_refresh`,
//! `operation::describe_insights_refresh`, `types::InsightsRefreshStatus`.

use aws_sdk_eks::types as sdk;

use super::convert::to_update;
use super::errors::OrApiError;
use super::AwsEks;
use crate::model::live::*;
use crate::ports::*;

pub(super) async fn cancel_update(eks: &AwsEks, cluster: &str, id: &str) -> ApiResult<Update> {
    let (client, call) = eks.on_cluster(
        "CancelUpdate",
        cluster,
        format!("update {id} of cluster {cluster}"),
    );
    let out = client
        .cancel_update()
        .name(cluster)
        .update_id(id)
        .send()
        .await
        .or_api_error(&call)?;
    to_update(
        &call,
        out.update(),
        false,
        Some(UpdateType::VersionRollback),
    )
}

pub(super) async fn start_insights_refresh(
    eks: &AwsEks,
    cluster: &str,
) -> ApiResult<InsightsRefresh> {
    let (client, call) = on_insights(eks, "StartInsightsRefresh", cluster);
    let request = client.start_insights_refresh().cluster_name(cluster);
    let out = request.send().await.or_api_error(&call)?;
    Ok(refresh(out.status(), out.message(), None))
}

pub(super) async fn describe_insights_refresh(
    eks: &AwsEks,
    cluster: &str,
) -> ApiResult<InsightsRefresh> {
    let (client, call) = on_insights(eks, "DescribeInsightsRefresh", cluster);
    let request = client.describe_insights_refresh().cluster_name(cluster);
    let out = request.send().await.or_api_error(&call)?;
    let times = (out.started_at(), out.ended_at());
    Ok(refresh(out.status(), out.message(), Some(times)))
}

fn on_insights(
    eks: &AwsEks,
    op: &'static str,
    cluster: &str,
) -> (aws_sdk_eks::Client, super::errors::Call) {
    eks.on_cluster(op, cluster, format!("insights of cluster {cluster}"))
}

type Times<'a> = (
    Option<&'a aws_smithy_types::DateTime>,
    Option<&'a aws_smithy_types::DateTime>,
);

fn refresh(
    status: Option<&sdk::InsightsRefreshStatus>,
    message: Option<&str>,
    times: Option<Times<'_>>,
) -> InsightsRefresh {
    let (started, ended) = times.unwrap_or((None, None));
    InsightsRefresh {
        status: refresh_status(status),
        message: message.map(str::to_string),
        started_at: started.map(|t| t.secs()),
        ended_at: ended.map(|t| t.secs()),
    }
}

/// A status keelson does not know yet is read as still running: the caller's wait is
/// bounded, so an unknown status costs time, never a wrong verdict.
fn refresh_status(s: Option<&sdk::InsightsRefreshStatus>) -> RefreshStatus {
    match s {
        Some(sdk::InsightsRefreshStatus::Completed) => RefreshStatus::Completed,
        Some(sdk::InsightsRefreshStatus::Failed) => RefreshStatus::Failed,
        _ => RefreshStatus::InProgress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refresh_status_the_sdk_names_is_read() {
        // aws-sdk-eks `InsightsRefreshStatus::values()` is the model's list.
        let read: Vec<RefreshStatus> = sdk::InsightsRefreshStatus::values()
            .iter()
            .map(|v| refresh_status(Some(&sdk::InsightsRefreshStatus::from(*v))))
            .collect();
        assert_eq!(
            read,
            vec![
                RefreshStatus::Completed,
                RefreshStatus::Failed,
                RefreshStatus::InProgress
            ]
        );
    }
}
