//! Sync semantics on both stores: replace per source in one transaction, conflicts, bad documents,
//! Locations, relations, and replicas seeing each other's syncs.

use std::path::Path;

use idp::catalog::{CatalogService, EntityRef, Problem, RelationType, Target, read_source};

use crate::support;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

fn component(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

fn group(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\nspec:\n  type: team\n  children: []\n"
    )
}

fn key(kind: &str, name: &str) -> EntityRef {
    EntityRef::new(kind, "default", name)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_replaces_what_its_source_contributed_and_an_unchanged_resync_changes_nothing() {
    for backend in support::backends() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "a.yaml",
            &format!(
                "{}---\n{}---\n{}",
                group("team-a"),
                component("one", "team-a"),
                component("two", "team-a")
            ),
        );
        let service = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        let src = dir.path().to_path_buf();
        let r = service.sync(std::slice::from_ref(&src)).await;
        let o = r[0].outcome.as_ref().expect("ok");
        assert_eq!(
            (o.inserted, o.updated, o.deleted),
            (3, 0, 0),
            "{}",
            backend.name
        );
        let generation = o.generation;

        let r = service.sync(std::slice::from_ref(&src)).await;
        let o = r[0].outcome.as_ref().expect("ok");
        assert_eq!(
            (o.inserted, o.updated, o.deleted, o.unchanged),
            (0, 0, 0, 3),
            "{}",
            backend.name
        );
        assert_eq!(
            o.generation, generation,
            "an unchanged re-sync does not bump the generation"
        );

        write(
            dir.path(),
            "a.yaml",
            &format!("{}---\n{}", group("team-a"), component("one", "team-b")),
        );
        let r = service.sync(std::slice::from_ref(&src)).await;
        let o = r[0].outcome.as_ref().expect("ok");
        assert_eq!(
            (o.inserted, o.updated, o.deleted),
            (0, 1, 1),
            "{}",
            backend.name
        );
        let snap = service.snapshot();
        assert!(
            snap.get(&key("Component", "two")).is_none(),
            "removed from the files, removed from the catalog"
        );
        let one = snap
            .get(&key("component", "ONE"))
            .expect("refs compare case-insensitively");
        let owner = snap
            .related(one, RelationType::OwnedBy)
            .next()
            .expect("owner");
        assert!(
            matches!(owner, Target::Unresolved(r) if r.name == "team-b"),
            "unresolved owner kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_source_keeps_a_contested_ref_and_the_conflict_is_reported() {
    for backend in support::backends() {
        let a = tempfile::tempdir().expect("tmp");
        let b = tempfile::tempdir().expect("tmp");
        write(a.path(), "c.yaml", &component("shared", "team-a"));
        write(
            b.path(),
            "c.yaml",
            &format!(
                "{}---\n{}",
                component("shared", "team-b"),
                component("only-b", "team-b")
            ),
        );
        let service = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        service.sync(&[a.path().to_path_buf()]).await;
        let r = service.sync(&[b.path().to_path_buf()]).await;
        assert!(r[0].problems.iter().any(|p| matches!(p, Problem::Conflict { entity_ref, .. } if entity_ref == "component:default/shared")));
        let snap = service.snapshot();
        let shared = snap.get(&key("Component", "shared")).expect("kept");
        assert_eq!(snap.owner_name(shared), Some("team-a"), "{}", backend.name);
        assert!(snap.get(&key("Component", "only-b")).is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_document_never_costs_the_good_ones_and_a_broken_file_keeps_its_last_good_state() {
    for backend in support::backends() {
        let dir = tempfile::tempdir().expect("tmp");
        let bad_yaml =
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: [unclosed\n";
        let placeholder = component("${{ values.name }}", "team-a");
        write(
            dir.path(),
            "mixed.yaml",
            &format!(
                "---\n---\n{}---\n{bad_yaml}---\n{placeholder}---\n{}",
                component("good-1", "team-a"),
                component("good-2", "team-a")
            ),
        );
        write(dir.path(), "binary.yaml", "\u{0}\u{1}not yaml: [");
        let service = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        let src = dir.path().to_path_buf();
        let r = service.sync(std::slice::from_ref(&src)).await;
        let snap = service.snapshot();
        assert!(
            snap.get(&key("Component", "good-1")).is_some()
                && snap.get(&key("Component", "good-2")).is_some()
        );
        let problems: Vec<String> = r[0].problems.iter().map(ToString::to_string).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("mixed.yaml: document 2") && p.contains("not valid YAML")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("mixed.yaml: document 3")
                    && p.contains("templating placeholder")),
            "{problems:#?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("binary.yaml")),
            "{problems:#?}"
        );

        // good-2 breaks: it is kept at its last good state, not dropped.
        write(
            dir.path(),
            "mixed.yaml",
            &format!(
                "{}---\nkind: Component\nmetadata: {{name: good-2\n",
                component("good-1", "team-a")
            ),
        );
        let r = service.sync(std::slice::from_ref(&src)).await;
        assert_eq!(
            r[0].outcome.as_ref().expect("ok").kept_despite_errors,
            1,
            "{}",
            backend.name
        );
        assert!(
            service
                .snapshot()
                .get(&key("Component", "good-2"))
                .is_some()
        );

        // A source that vanished leaves the catalog as it was.
        let gone = dir.path().join("gone");
        let r = service.sync(std::slice::from_ref(&gone)).await;
        assert!(r[0].failed());
        assert!(
            service
                .snapshot()
                .get(&key("Component", "good-1"))
                .is_some()
        );
    }
}

#[test]
fn locations_are_followed_once_with_cycles_urls_globs_and_escapes_reported() {
    let root = tempfile::tempdir().expect("tmp");
    let dir = root.path().join("catalog");
    let loc = |name: &str, targets: &[&str]| {
        let list: String = targets.iter().map(|t| format!("    - {t}\n")).collect();
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n  targets:\n{list}"
        )
    };
    write(
        &dir,
        "all.yaml",
        &loc(
            "all",
            &[
                "./teams/a.yaml",
                "./teams/*.yaml",
                "https://example.com/x.yaml",
                "../outside.yaml",
                "./missing.yaml",
            ],
        ),
    );
    write(
        &dir,
        "teams/a.yaml",
        &format!(
            "{}---\n{}",
            loc("a", &["../all.yaml", "./b.yaml"]),
            group("team-a")
        ),
    );
    write(
        &dir,
        "teams/b.yaml",
        &format!("{}---\n{}", loc("b", &["./a.yaml"]), group("team-b")),
    );
    write(root.path(), "outside.yaml", &group("outsider"));
    let read = read_source(&dir.join("all.yaml"));
    assert_eq!(read.files_read, 3);
    let groups: Vec<String> = read
        .entities
        .iter()
        .map(|e| e.entity_ref.name.clone())
        .filter(|n| n.starts_with("team"))
        .collect();
    assert_eq!(groups, vec!["team-a", "team-b"]);
    let text: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|p| p.contains(needle));
    assert!(has("`./teams/*.yaml` not followed: glob"), "{text:#?}");
    assert!(
        has("`https://example.com/x.yaml` not followed: URL"),
        "{text:#?}"
    );
    assert!(
        has("`../outside.yaml` not followed: it lies outside"),
        "{text:#?}"
    );
    assert!(has("`./missing.yaml` does not exist"), "{text:#?}");
    assert!(has("cycle"), "{text:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn relations_are_derived_in_both_directions() {
    for backend in support::backends() {
        let service = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        service.sync(&[support::demo_catalog()]).await;
        let snap = service.snapshot();
        let checkout = snap
            .get(&key("Component", "checkout-api"))
            .expect("checkout-api");
        let team = snap.get(&key("Group", "payments-platform")).expect("team");
        assert!(
            snap.related(checkout, RelationType::OwnedBy)
                .any(|t| *t == Target::Resolved(team))
        );
        assert!(
            snap.related(team, RelationType::OwnerOf)
                .any(|t| *t == Target::Resolved(checkout))
        );
        assert!(snap.related(team, RelationType::HasMember).count() >= 2);
        let provided: Vec<u32> = snap
            .related(checkout, RelationType::ProvidesApi)
            .filter_map(|t| {
                if let Target::Resolved(i) = t {
                    Some(*i)
                } else {
                    None
                }
            })
            .collect();
        assert!(!provided.is_empty());
        assert!(
            snap.related(provided[0], RelationType::ApiProvidedBy)
                .any(|t| *t == Target::Resolved(checkout))
        );
        let deps: Vec<&Target> = snap.related(checkout, RelationType::DependsOn).collect();
        assert!(!deps.is_empty());
        for d in deps {
            if let Target::Resolved(i) = d {
                assert!(
                    snap.related(*i, RelationType::DependencyOf)
                        .any(|t| *t == Target::Resolved(checkout))
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_on_the_same_database_sees_another_replicas_sync() {
    for backend in support::backends() {
        let first = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        let second = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        assert!(second.snapshot().is_empty());
        first.sync(&[support::demo_catalog()]).await;
        assert!(
            second.refresh_if_changed().await.expect("poll"),
            "{}",
            backend.name
        );
        assert!(
            second
                .snapshot()
                .get(&key("Component", "checkout-api"))
                .is_some()
        );
        assert!(
            !second.refresh_if_changed().await.expect("poll"),
            "no change, no reload"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_source_spelled_two_ways_is_one_source_and_symlinks_out_of_it_are_refused() {
    let backend = &support::backends()[0];
    let root = tempfile::tempdir().expect("tmp");
    let dir = root.path().join("cat");
    write(&dir, "a.yaml", &component("one", "team-a"));
    write(root.path(), "secret.yaml", &component("outsider", "team-a"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.yaml"), dir.join("link.yaml"))
        .expect("symlink");
    let service = CatalogService::open(backend.store().await)
        .await
        .expect("open");
    let first = service.sync(std::slice::from_ref(&dir)).await;
    let again = service.sync(&[dir.join(".").join("")]).await;
    assert!(
        again[0]
            .problems
            .iter()
            .all(|p| !matches!(p, Problem::Conflict { .. })),
        "{:?}",
        again[0].problems
    );
    assert_eq!(first[0].source, again[0].source);
    #[cfg(unix)]
    {
        assert!(
            first[0]
                .problems
                .iter()
                .any(|p| p.to_string().contains("symbolic link")),
            "{:?}",
            first[0].problems
        );
        assert!(
            service
                .snapshot()
                .get(&key("Component", "outsider"))
                .is_none()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_shared_by_two_users_identifies_nobody() {
    let backend = &support::backends()[0];
    let dir = tempfile::tempdir().expect("tmp");
    let user = |name: &str, ns: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  profile: {{email: shared@example.com}}\n  memberOf: []\n"
        )
    };
    write(
        dir.path(),
        "u.yaml",
        &format!(
            "{}---\n{}",
            user("guest", "default"),
            user("guest", "development")
        ),
    );
    let service = CatalogService::open(backend.store().await)
        .await
        .expect("open");
    service.sync(&[dir.path().to_path_buf()]).await;
    assert!(
        service
            .snapshot()
            .user_by_email("shared@example.com")
            .is_none()
    );
}
