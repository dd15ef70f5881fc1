//! The EKS adapter's 2026 calls on aws-smithy-mocks: CancelUpdate, StartInsightsRefresh,
//! DescribeInsightsRefresh, and UpdateClusterVersion answered as a VersionRollback or
//! with the 409 EKS sends right after a cluster turns ACTIVE.

use aws_sdk_eks::operation::cancel_update::CancelUpdateOutput;
use aws_sdk_eks::operation::describe_insights_refresh::DescribeInsightsRefreshOutput;
use aws_sdk_eks::operation::start_insights_refresh::StartInsightsRefreshOutput;
use aws_sdk_eks::operation::update_cluster_version::UpdateClusterVersionOutput;
use aws_sdk_eks::types as sdk;
use aws_sdk_eks::Client;
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;

use keelson::model::live::{UpdateStatus, UpdateType};
use keelson::ports::*;

use super::aws_mocks::{aws_error, calls, eks, CLUSTER};

fn update(id: &str, t: sdk::UpdateType, s: sdk::UpdateStatus) -> sdk::Update {
    sdk::Update::builder()
        .id(id)
        .r#type(t)
        .status(s)
        .params(
            sdk::UpdateParam::builder()
                .r#type(sdk::UpdateParamType::Version)
                .value("1.34")
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_lower_version_is_reported_as_a_version_rollback_and_can_be_cancelled() {
    let up = mock!(Client::update_cluster_version)
        .match_requests(|r| r.name() == Some(CLUSTER) && r.version() == Some("1.34"))
        .then_output(|| {
            UpdateClusterVersionOutput::builder()
                .update(update(
                    "u-1",
                    sdk::UpdateType::VersionRollback,
                    sdk::UpdateStatus::InProgress,
                ))
                .build()
        });
    let cancel = mock!(Client::cancel_update)
        .match_requests(|r| r.name() == Some(CLUSTER) && r.update_id() == Some("u-1"))
        .then_output(|| {
            CancelUpdateOutput::builder()
                .update(update(
                    "u-1",
                    sdk::UpdateType::VersionRollback,
                    sdk::UpdateStatus::Cancelled,
                ))
                .build()
        });
    let eks = eks(&[&up, &cancel]);
    let u = eks.update_cluster_version(CLUSTER, "1.34").await.unwrap();
    assert_eq!(u.update_type, UpdateType::VersionRollback);
    assert_eq!(u.status, UpdateStatus::InProgress);
    assert_eq!(u.params.get("Version").map(String::as_str), Some("1.34"));
    let c = eks.cancel_update(CLUSTER, "u-1").await.unwrap();
    assert_eq!(c.status, UpdateStatus::Cancelled);
    assert_eq!(calls(&eks, "CancelUpdate"), 1);
}

#[tokio::test]
async fn cancelling_what_eks_cannot_cancel_is_an_invalid_request() {
    let cancel = mock!(Client::cancel_update).then_http_response(|| {
        aws_error(
            400,
            "InvalidRequestException",
            "Only VersionRollback updates of EKS Auto Mode clusters can be cancelled",
        )
    });
    let eks = eks(&[&cancel]);
    let err = eks.cancel_update(CLUSTER, "u-9").await.unwrap_err();
    assert!(
        matches!(&err, ApiError::InvalidRequest(m) if m.contains("CancelUpdate") && m.contains(CLUSTER)),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_409_right_after_active_is_resource_in_use_and_not_retried_by_the_sdk() {
    let busy = mock!(Client::update_cluster_version).then_http_response(|| {
        aws_error(
            409,
            "ResourceInUseException",
            "Cannot VersionUpdate because cluster prod-eu currently has update u-0 in progress",
        )
    });
    let eks = eks(&[&busy]);
    let err = eks
        .update_cluster_version(CLUSTER, "1.35")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::ResourceInUse(m) if m.contains("currently has update")),
        "{err:?}"
    );
    // The executor owns that wait (it backs off for minutes); the SDK does not retry it.
    assert_eq!(calls(&eks, "UpdateClusterVersion"), 1);
}

#[tokio::test]
async fn an_insights_refresh_is_started_and_described_with_its_times() {
    let start = mock!(Client::start_insights_refresh)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER))
        .then_output(|| {
            StartInsightsRefreshOutput::builder()
                .status(sdk::InsightsRefreshStatus::InProgress)
                .message("Insights refresh started")
                .build()
        });
    let describe = mock!(Client::describe_insights_refresh)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER))
        .then_output(|| {
            DescribeInsightsRefreshOutput::builder()
                .status(sdk::InsightsRefreshStatus::Completed)
                .started_at(DateTime::from_secs(1_795_392_000))
                .ended_at(DateTime::from_secs(1_795_392_060))
                .build()
        });
    let eks = eks(&[&start, &describe]);
    let r = eks.start_insights_refresh(CLUSTER).await.unwrap();
    assert_eq!(r.status, RefreshStatus::InProgress);
    assert_eq!(r.message.as_deref(), Some("Insights refresh started"));
    let d = eks.describe_insights_refresh(CLUSTER).await.unwrap();
    assert_eq!(d.status, RefreshStatus::Completed);
    assert_eq!(d.started_at, Some(1_795_392_000));
    assert_eq!(d.ended_at, Some(1_795_392_060));
    assert_eq!(calls(&eks, "StartInsightsRefresh"), 1);
    assert_eq!(calls(&eks, "DescribeInsightsRefresh"), 1);
}

#[tokio::test]
async fn a_failed_refresh_is_reported_as_failed() {
    let describe = mock!(Client::describe_insights_refresh).then_output(|| {
        DescribeInsightsRefreshOutput::builder()
            .status(sdk::InsightsRefreshStatus::Failed)
            .message("internal error")
            .build()
    });
    let eks = eks(&[&describe]);
    let d = eks.describe_insights_refresh(CLUSTER).await.unwrap();
    assert_eq!(d.status, RefreshStatus::Failed);
    assert_eq!(d.message.as_deref(), Some("internal error"));
}
