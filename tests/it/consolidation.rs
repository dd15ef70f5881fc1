//! NodePools keelson creates always carry `disruption.consolidationPolicy`: on a 1.37 Auto
//! Mode cluster, where EKS gives a NodePool without it `Balanced` (the simulator models
//! that default), the applied object carries Karpenter's `WhenEmptyOrUnderutilized`, and
//! the plan says so.

use keelson::plan::{Op, Plan};
use serde_json::Value;

use crate::planner::NODEPOOL;
use crate::simkit::*;
use crate::util::*;

fn repo(version: &str, pool: Option<&str>) -> keelson::config::Loaded {
    let cluster = AUTO_CLUSTER.replace("\"1.34\"", &format!("\"{version}\""));
    let mut files = vec![
        ("keelson.yaml", FLEET.to_string()),
        ("auto/cluster.yaml", cluster),
        ("auto/nodeclass.yaml", NODECLASS.to_string()),
    ];
    if let Some(p) = pool {
        files.push(("auto/nodepool.yaml", p.to_string()));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let l = load(&files);
    assert!(l.is_valid(), "{}", show(&l.diagnostics));
    l
}

fn applied_pool(plan: &Plan) -> Value {
    plan.clusters[0]
        .steps
        .iter()
        .flat_map(|s| &s.ops)
        .find_map(|o| match o {
            Op::KubeApply { object } if object["kind"] == "NodePool" => Some(object.clone()),
            _ => None,
        })
        .unwrap()
}

fn live_policy(sim: &keelson::adapters::sim::Sim, pool: &str) -> Value {
    sim.snapshot().clusters["auto1"].kube[&format!("NodePool/{pool}")]["spec"]["disruption"]
        ["consolidationPolicy"]
        .clone()
}

#[tokio::test]
async fn a_nodepool_without_a_consolidation_policy_is_applied_with_an_explicit_one_on_1_37() {
    let sim = sim();
    converge(&sim, &repo("1.34", None)).await;
    // The cluster runs 1.37 (the built-in calendar stops at 1.36, so the simulator is told).
    let mut state = sim.snapshot();
    state.clusters.get_mut("auto1").unwrap().live.version = "1.37".into();
    sim.replace(state);

    assert!(!NODEPOOL.contains("consolidationPolicy"));
    let git = repo("1.37", Some(NODEPOOL));
    let plan = plan_for(&sim, &git).await;
    let obj = applied_pool(&plan);
    assert_eq!(
        obj["spec"]["disruption"],
        serde_json::json!({"consolidateAfter": "0s", "consolidationPolicy": "WhenEmptyOrUnderutilized"})
    );
    let notes = &plan.clusters[0].notes;
    assert!(
        notes.iter().any(|n| n.contains("NodePool batch")
            && n.contains("keelson writes WhenEmptyOrUnderutilized")
            && n.contains("1.37")),
        "{notes:?}"
    );
    converge(&sim, &git).await;
    assert_eq!(live_policy(&sim, "batch"), "WhenEmptyOrUnderutilized");
    // Converged: nothing to change, nothing to note.
    let plan = plan_for(&sim, &git).await;
    assert!(!plan.has_changes());
    assert!(!plan.clusters[0]
        .notes
        .iter()
        .any(|n| n.contains("consolidationPolicy")));

    // What keelson spares its users: the same pool sent without the field gets Balanced.
    let mut bare = obj.clone();
    bare["metadata"]["name"] = "bare".into();
    bare["spec"].as_object_mut().unwrap().remove("disruption");
    keelson::ports::KubeApi::apply(&sim, "auto1", &bare, "someone-else")
        .await
        .unwrap();
    assert_eq!(live_policy(&sim, "bare"), "Balanced");
}

#[tokio::test]
async fn a_written_consolidation_policy_is_applied_as_written() {
    let sim = sim();
    let pool = format!(
        "{NODEPOOL}  disruption:\n    consolidateAfter: 1m\n    consolidationPolicy: Balanced\n"
    );
    let git = repo("1.34", Some(&pool));
    let plan = plan_for(&sim, &git).await;
    assert!(!plan.clusters[0]
        .notes
        .iter()
        .any(|n| n.contains("consolidationPolicy")));
    converge(&sim, &git).await;
    assert_eq!(live_policy(&sim, "batch"), "Balanced");
}
