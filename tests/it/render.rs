//! Snapshots of the plan renderings, and the Markdown size budget.

use keelson::plan::render;

use crate::simkit::*;
use crate::util::*;

fn loaded_with(cluster: &str) -> keelson::config::Loaded {
    let pool = "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: batch}\nspec:\n  template:\n    spec:\n      nodeClassRef: {group: eks.amazonaws.com, kind: NodeClass, name: batch}\n      requirements: []\n      expireAfter: 336h\n";
    let addon = "apiVersion: keelson.dev/v1alpha1\nkind: Addon\nmetadata: {name: amazon-cloudwatch-observability}\nspec:\n  version: latest\n  configurationValues: {containerLogs: {enabled: true}}\n";
    let l = load(&[
        ("keelson.yaml", FLEET),
        ("auto/cluster.yaml", cluster),
        ("auto/nodeclass.yaml", NODECLASS),
        ("auto/pool.yaml", pool),
        ("auto/addon.yaml", addon),
    ]);
    assert!(l.is_valid(), "{}", show(&l.diagnostics));
    l
}

#[tokio::test]
async fn text_and_json_of_a_first_plan() {
    let sim = sim();
    let plan = plan_for(&sim, &loaded_with(AUTO_CLUSTER)).await;
    insta::assert_snapshot!("first_plan_text", render::text(&plan));
    insta::assert_snapshot!("first_plan_json", render::json(&plan));
}

#[tokio::test]
async fn text_and_json_of_an_upgrade_with_config_changes() {
    let sim = sim();
    converge(
        &sim,
        &loaded_with(&AUTO_CLUSTER.replace("\"1.34\"", "\"1.33\"")),
    )
    .await;
    let changed = AUTO_CLUSTER
        .replace(
            "  access:",
            "  logging: [api, audit]\n  deletionProtection: true\n  access:",
        )
        .replace("[system, general-purpose]", "[system]");
    let mut l = loaded_with(&changed);
    // And the add-on's configuration.
    l.repo.clusters[0].addons[0].value.spec.configuration_values = Some(
        serde_json::json!({"containerLogs": {"enabled": false}, "agent": {"mode": "daemonset"}}),
    );
    let plan = plan_for(&sim, &l).await;
    insta::assert_snapshot!("upgrade_plan_text", render::text(&plan));
    insta::assert_snapshot!("upgrade_plan_markdown", render::markdown(&plan));
    insta::assert_json_snapshot!("upgrade_plan_json", plan, { ".clusters[].fingerprint" => "[fingerprint]" });
}

#[tokio::test]
async fn markdown_for_a_thousand_new_clusters_fits_in_a_pull_request_comment() {
    let mut files: Vec<(String, String)> = vec![("keelson.yaml".into(), FLEET.into())];
    for i in 0..1000 {
        files.push((
            format!("c{i}/cluster.yaml"),
            AUTO_CLUSTER.replace("name: auto1", &format!("name: cluster-{i:04}")),
        ));
        files.push((format!("c{i}/nodeclass.yaml"), NODECLASS.to_string()));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let l = load(&refs);
    assert!(l.is_valid());
    let plan = plan_for(&sim(), &l).await;
    assert_eq!(plan.summary.create, 3000);
    let md = render::markdown(&plan);
    assert!(md.len() <= 65_000, "{} characters", md.len());
    assert!(
        md.contains("more cluster diffs are left out"),
        "{}",
        &md[md.len() - 300..]
    );
    assert!(md.contains("| `cluster-0000` |"));
}
