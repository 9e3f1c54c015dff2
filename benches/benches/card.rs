//! The card alone, no reader: APDUs per second for simple commands, the whole auth flow, and
//! one bare RSA-2048 signature with the same library as the baseline the flow is compared to.
//!
//! `cargo bench -p kazasu-benches --bench card`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kazasu::host::flows::{self, Host, ReadMode};
use kazasu::link::transport::DirectCard;
use kazasu_benches::powered_card;
use kazasu_sim::{SimTime, applets::jpki};
use std::hint::black_box;

fn simple_apdus(c: &mut Criterion) {
    let mut g = c.benchmark_group("card");
    g.throughput(Throughput::Elements(1));
    let mut card = powered_card("mynumber-card");
    let select = [
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
    ];
    g.bench_function("select JPKI AP", |b| {
        b.iter(|| black_box(card.process(black_box(&select), SimTime::START)))
    });
    // Its own card, with the AP selected here: the read measured is a successful one, whatever
    // ran before.
    let mut card = powered_card("mynumber-card");
    card.process(&select, SimTime::START);
    let read = [0x00, 0xB0, 0x8A, 0x00, 0x04];
    let answer = card
        .process(&read, SimTime::START)
        .answer()
        .expect("a powered card");
    assert!(
        answer.response.sw.is_ok() && answer.response.data.starts_with(&[0x30, 0x82]),
        "READ BINARY by SFI answers the certificate's header: {:?}",
        answer.response
    );
    g.bench_function("read 4 bytes by SFI", |b| {
        b.iter(|| black_box(card.process(black_box(&read), SimTime::START)))
    });
    g.finish();
}

fn auth_flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("auth flow");
    g.throughput(Throughput::Elements(1));
    let subject = kazasu_sim::Fixtures::embedded().default_subject();
    let digest = flows::digest_info_sha256(b"nonce");
    g.bench_function("bare RSA-2048 signature (baseline)", |b| {
        b.iter(|| {
            black_box(
                subject
                    .keys
                    .auth_key
                    .sign_pkcs1(black_box(&digest))
                    .unwrap(),
            )
        })
    });
    let card = powered_card("android-jpki");
    let mut direct = DirectCard::new(card);
    let pin = direct.card.subject().identity.pins.auth.clone();
    g.bench_function("android auth flow, card only", |b| {
        b.iter(|| {
            direct.tap();
            let mut host = Host::new(&mut direct);
            let out = flows::jpki_auth_flow(
                &mut host,
                kazasu_sim::platform::profile::Device::Android,
                &pin,
                b"nonce",
                ReadMode::Chunked,
            )
            .unwrap();
            black_box(out.signature);
        })
    });
    let _ = jpki::AID;
    g.finish();
}

criterion_group!(benches, simple_apdus, auth_flow);
criterion_main!(benches);
