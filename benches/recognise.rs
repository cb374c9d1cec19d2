//! Benchmark of the "Who owns this?" recogniser, in process: [`idp::catalog::recognise`] on a
//! pasted Slack message against a synthetic 10,000-component catalog.
//!
//! * `recognise_4000_chars_10k`: a 4,000-character message (prose, a stack trace, a CI link, a
//!   dashboard link, a hostname and a repository URL).
//! * `recognise_40000_chars_10k`: the same message repeated to the 40,000-character cap.
//! * `recognise_index_build_10k`: building the lookup tables once per snapshot.
//!
//! Run with `cargo bench --bench recognise`. The catalog is generated and read once before
//! measuring; the index is built before the message benchmarks.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use idp::catalog::recognise::{MAX_CHARS, RecogniseIndex};
use idp::catalog::{Entity, Snapshot, read_source, recognise};

/// The allocator `idp serve` runs with (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Components in the synthetic catalog.
const COMPONENTS: usize = 10_000;

/// One block of a realistic incident message; repeated to the wanted length.
const BLOCK: &str = "Seeing 500s from the storefront since 10:02, customers cannot pay &amp; carts \
time out. Error log:\n```java.lang.IllegalStateException: payment declined\n    at \
com.acme.checkout.PaymentClient.charge(PaymentClient.java:88)\n    at \
com.acme.checkout.CheckoutController.placeOrder(CheckoutController.java:42)\n    at \
org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)```\n\
pod fraud-scoring-7d9f8b6c5-x2x4z restarted 3 times, see \
<https://grafana.example.com/d/payment-gateway/overview?orgId=1&amp;from=now-1h|dashboard> \
and the failing job <https://github.com/acme-shop/web-storefront/actions/runs/123456|run 123456>.\n";

fn message(chars: usize, tail: &str) -> String {
    let mut text = String::with_capacity(chars + BLOCK.len());
    while text.len() + tail.len() < chars {
        text.push_str(BLOCK);
    }
    text.truncate(chars.saturating_sub(tail.len()));
    text.push_str(tail);
    text
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = dir.path().join("catalog");
    idp::catalog::generate::generate(COMPONENTS, &catalog).expect("generate the catalog");
    let read = read_source(&catalog.join("all.yaml"));
    let entities = read
        .entities
        .iter()
        .map(|e| {
            let doc: serde_json::Value = serde_json::from_str(&e.body).expect("stored JSON");
            Entity::from_document(&doc).expect("a valid entity stays valid")
        })
        .collect();
    let snapshot = Snapshot::build(entities, 1);
    assert!(
        snapshot.len() > COMPONENTS,
        "the snapshot holds the catalog"
    );

    c.bench_function("recognise_index_build_10k", |b| {
        b.iter(|| RecogniseIndex::build(black_box(&snapshot)));
    });

    let tail = " Repo: https://github.com/acme-shop/checkout-api/blob/main/src/App.java host \
checkout-api.prod.acme.internal";
    let short = message(4_000, tail);
    let long = message(MAX_CHARS, tail);
    let found = recognise(&snapshot, &short);
    assert!(
        found
            .found
            .iter()
            .any(|r| snapshot.node(r.entity).entity.entity_ref.name == "checkout-api"),
        "{found:?}"
    );
    assert!(!recognise(&snapshot, &long).truncated);

    c.bench_function("recognise_4000_chars_10k", |b| {
        b.iter(|| recognise(black_box(&snapshot), black_box(&short)));
    });
    c.bench_function("recognise_40000_chars_10k", |b| {
        b.iter(|| recognise(black_box(&snapshot), black_box(&long)));
    });
}

/// Runs every benchmark of this file with criterion's command-line configuration (what
/// `criterion_group!` generates, written out so that it carries a doc comment).
pub fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
}

criterion_main!(benches);
