//! Several Agora projects in one store: every event, session and lifecycle event carries its
//! project, lists filter by it, and a row stored without one belongs to `default`.

use ncsd::store::{DynStore, EventQuery, LifecycleQuery, NewDelivery, NewLifecycle, SessionQuery};

use crate::records::{ids, put, recording, sids};

fn in_project(id: &str, sid: &str, project: &str) -> NewDelivery {
    NewDelivery {
        project: project.into(),
        ..recording(id, sid, 1_000)
    }
}

pub async fn story_projects(store: DynStore) {
    put(&store, in_project("p1", "sProd", "prod")).await;
    put(&store, in_project("p2", "sProd", "prod")).await;
    put(&store, in_project("s1", "sStaging", "staging")).await;
    put(&store, recording("d1", "sDefault", 1_000)).await;

    assert_eq!(store.event("p1").await.unwrap().unwrap().project, "prod");
    assert_eq!(store.event("d1").await.unwrap().unwrap().project, "default");
    let events = |project: &str| {
        let (store, project) = (store.clone(), project.to_string());
        async move {
            let rows = store
                .events(&EventQuery {
                    limit: 100,
                    project: Some(project),
                    ..Default::default()
                })
                .await
                .unwrap();
            ids(&rows).into_iter().map(String::from).collect::<Vec<_>>()
        }
    };
    assert_eq!(events("prod").await, ["p1", "p2"]);
    assert_eq!(events("staging").await, ["s1"]);
    assert!(events("nope").await.is_empty());

    let session = store.session("sProd").await.unwrap().unwrap();
    assert_eq!(session.project, "prod");
    let rows = store
        .sessions(&SessionQuery {
            limit: 10,
            project: Some("staging".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sids(&rows), ["sStaging"]);

    // A lifecycle event takes its session's project.
    let lifecycle = |sid: &str| NewLifecycle {
        id: format!("lc-{sid}"),
        sid: sid.into(),
        kind: "recording.started".into(),
        cname: None,
        recorded_at_ms: 5,
        message: r#"{"id":"x","type":"recording.started","data":{}}"#.into(),
    };
    store
        .record_lifecycle(vec![lifecycle("sProd"), lifecycle("sDefault")], None)
        .await
        .unwrap();
    let prod = store
        .lifecycle(&LifecycleQuery {
            limit: 10,
            project: Some("prod".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!(
        (prod[0].sid.as_str(), prod[0].project.as_str()),
        ("sProd", "prod")
    );
    let all = store
        .lifecycle(&LifecycleQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let of_default = all.iter().find(|r| r.sid == "sDefault").unwrap();
    assert_eq!(of_default.project, "default");
}
