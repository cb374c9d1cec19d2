//! Real public catalogs (`IDP_REAL_CATALOGS`, set by `.ci/run` to `../shared/catalog`): Backstage's
//! own example org and descriptors from public repositories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use idp::authz::{Caller, Origin, Policy};
use idp::catalog::{CatalogService, Entity, Problem, read_source};
use idp::command::Dialect;

use crate::support;

/// The folder of real catalogs, or `None` when the variable is unset. Set but missing fails.
fn real_catalogs() -> Option<PathBuf> {
    let dir = std::env::var("IDP_REAL_CATALOGS")
        .ok()
        .filter(|d| !d.is_empty())?;
    let path = PathBuf::from(dir);
    assert!(
        path.is_dir(),
        "IDP_REAL_CATALOGS={} is set but is not a folder",
        path.display()
    );
    Some(path)
}

/// Every `*.yaml` / `*.yml` file under `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Distinct refs per kind over the valid documents of the files, computed independently of the
/// ingester's splitting and Location handling: every document of every file, parsed as a stream.
fn expected_refs(files: &[PathBuf]) -> BTreeMap<String, BTreeSet<String>> {
    let mut per_kind: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("utf-8 file");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap_or_default();
        for doc in docs {
            if let Ok(e) = Entity::from_document(&doc) {
                per_kind
                    .entry(e.entity_ref.kind.to_ascii_lowercase())
                    .or_default()
                    .insert(e.entity_ref.key());
            }
        }
    }
    per_kind
}

#[tokio::test(flavor = "multi_thread")]
async fn backstage_examples_ingest_as_one_source_with_every_problem_reported() {
    let Some(root) = real_catalogs() else {
        eprintln!("IDP_REAL_CATALOGS not set; skipping the real-catalog test");
        return;
    };
    let dir = root.join("backstage-examples");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let files = yaml_files(&dir);
    let read = read_source(&dir);

    // Each file once, even those a Location names too.
    assert_eq!(read.files_read, files.len());

    // The URL target is reported with its file, not silently dropped.
    assert!(
        read.problems
            .iter()
            .any(|p| matches!(p, Problem::NotFollowed { at, target, .. }
            if at.file.ends_with("acme-corp.yaml") && target.starts_with("https://"))),
        "{:#?}",
        read.problems
    );
    // The older top-level copy duplicates components/artist-lookup-component.yaml: one conflict,
    // kept once.
    assert!(
        read.problems
            .iter()
            .any(|p| matches!(p, Problem::Conflict { entity_ref, .. }
        if entity_ref == "component:default/artist-lookup"))
    );
    let keys: Vec<String> = read.entities.iter().map(|e| e.entity_ref.key()).collect();
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "every ref kept once");

    // Every problem names an existing file, and document-level problems their document.
    for p in &read.problems {
        assert!(
            Path::new(p.file()).exists(),
            "problem names no real file: {p}"
        );
        if let Problem::Invalid { at, .. } | Problem::NotYaml { at, .. } = p {
            assert!(
                at.document.is_some() && at.line.is_some(),
                "no document index: {p}"
            );
        }
    }
    // The intentionally invalid component is reported.
    assert!(
        read.problems
            .iter()
            .any(|p| p.file().ends_with("invalid-component.yaml")),
        "{:#?}",
        read.problems
    );

    // Counts per kind equal the distinct refs per kind of the valid documents.
    let expected = expected_refs(&files);
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for e in &read.entities {
        *got.entry(e.entity_ref.kind.to_ascii_lowercase())
            .or_default() += 1;
    }
    let expected_counts: BTreeMap<String, usize> =
        expected.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    assert_eq!(got, expected_counts);

    // Stored and answered on every backend: `owner artist-lookup` names team-a.
    for backend in support::backends() {
        let service = Arc::new(
            CatalogService::open(backend.store().await)
                .await
                .expect("open"),
        );
        let reports = service.sync(std::slice::from_ref(&dir)).await;
        let outcome = reports[0].outcome.as_ref().expect("stored");
        assert_eq!(outcome.inserted, read.entities.len(), "{}", backend.name);
        let snapshot = service.snapshot();
        let by_kind: BTreeMap<String, usize> = snapshot.count_by_kind().into_iter().collect();
        assert_eq!(by_kind, expected_counts, "{}", backend.name);
        let state = idp::AppState::new(service.clone(), Policy::builtin(), None);
        let reply = crate::support::block(state.dispatch(
            &Caller::guest(Origin::Shell),
            "owner artist-lookup",
            Dialect::Plain,
        ));
        let json = serde_json::to_string(&reply.blocks).expect("json");
        assert!(json.contains("team-a"), "{}: {json}", backend.name);

        // An unchanged re-sync changes nothing.
        let again = service.sync(std::slice::from_ref(&dir)).await;
        let o = again[0].outcome.as_ref().expect("stored");
        assert_eq!(
            (o.inserted, o.updated, o.deleted),
            (0, 0, 0),
            "{}",
            backend.name
        );
        assert_eq!(o.unchanged, read.entities.len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_wild_descriptor_ingests_without_losing_a_valid_document() {
    let Some(root) = real_catalogs() else {
        eprintln!("IDP_REAL_CATALOGS not set; skipping the real-catalog test");
        return;
    };
    let dir = root.join("wild");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let files = yaml_files(&dir);
    assert!(
        files.len() >= 30,
        "expected the wild catalog, found {} files",
        files.len()
    );
    for f in &files {
        let read = read_source(f);
        let expected: usize = expected_refs(std::slice::from_ref(f))
            .values()
            .map(BTreeSet::len)
            .sum();
        assert!(
            read.entities.len() >= expected,
            "{}: kept {} of {expected} valid documents; problems: {:#?}",
            f.display(),
            read.entities.len(),
            read.problems
        );
        for p in &read.problems {
            assert!(!p.to_string().is_empty());
        }
    }
    for backend in support::backends() {
        let service = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        let reports = service.sync(std::slice::from_ref(&dir)).await;
        assert!(
            reports[0].outcome.is_ok(),
            "{}: {:?}",
            backend.name,
            reports[0].outcome
        );
        assert!(service.snapshot().len() > 30, "{}", backend.name);
    }
}
