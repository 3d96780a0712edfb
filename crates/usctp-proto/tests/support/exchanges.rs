//! Exchanges the tester plays again and again (the handshake from either
//! side, the user sending and reading), and the checks that go with them,
//! each `#[track_caller]` so that a failure names the test's line.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use usctp_proto::association::{AssocId, AssociationError, AssociationState, Established, Event};
use usctp_proto::chunk::{Abort, Chunk, Data, ErrorCause, Heartbeat, Init, Param, ParamType};
use usctp_proto::config::Config;
use usctp_proto::cookie::{CookieKeys, KEY_LEN, StateCookie};
use usctp_proto::endpoint::{ConnectError, ConnectOptions};
use usctp_proto::random::Random;
use usctp_proto::serial::Tsn;

use super::{
    INIT_ACK, IUT_SEED, Sent, Tester, client, cookie_echo, data_in, init, init_with, tester_addr,
    tlv_types,
};

/// The State Cookie the tester puts in its INIT ACKs.
pub const COOKIE: &[u8] = b"tester's state cookie";

pub fn cookie_param() -> Param {
    Param::StateCookie(Bytes::from_static(COOKIE))
}

impl Tester {
    /// Runs the four-way handshake as the peer (tag `peer_tag`) of a
    /// listening IUT; returns (IUT's tag, id).
    #[track_caller]
    pub fn establish(&mut self, peer_tag: u32) -> (u32, AssocId) {
        // T -> INIT -> IUT
        // IUT -> INIT ACK -> T
        let ack = send_init(self, init(peer_tag));
        // T -> COOKIE ECHO -> IUT
        // IUT -> COOKIE ACK -> T
        let reply = echo_cookie(self, &ack);
        assert_eq!(reply.packet.chunks, [Chunk::CookieAck]);
        let (id, _) = up(self);
        (ack.initiate_tag, id)
    }
}

/// An association the tester (tag `peer_tag`) set up with a listening IUT
/// of default parameters; returns the IUT's tag and the association.
#[track_caller]
pub fn established(peer_tag: u32) -> (Tester, u32, AssocId) {
    let (t, iut_tag, id, _) = established_with(Config::default(), peer_tag);
    (t, iut_tag, id)
}

/// An association the tester set up with the IUT (a server configured by
/// `config`); returns the IUT's tag, the association and the IUT's Initial
/// TSN.
#[track_caller]
pub fn established_with(config: Config, peer_tag: u32) -> (Tester, u32, AssocId, Tsn) {
    let mut t = Tester::with_config(config, true);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    let ack = send_init(&mut t, init(peer_tag));
    // T -> COOKIE ECHO -> IUT
    // IUT -> COOKIE ACK -> T
    assert_eq!(echo_cookie(&mut t, &ack).packet.chunks, [Chunk::CookieAck]);
    let (id, _) = up(&mut t);
    assert_ne!(ack.initiate_tag, peer_tag, "the tags tell the ends apart");
    (t, ack.initiate_tag, id, ack.initial_tsn)
}

/// An association the tester set up with the IUT (a server configured by
/// the defaults as `change` changes them); returns what `established_with`
/// does.
#[track_caller]
pub fn established_configured(
    peer_tag: u32,
    change: impl FnOnce(&mut Config),
) -> (Tester, u32, AssocId, Tsn) {
    established_with(configured(change), peer_tag)
}

/// The default configuration as `change` changes it.
pub fn configured(change: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    change(&mut config);
    config
}

/// Reads the IUT's INIT: alone, tag 0, to the tester's address.
#[track_caller]
pub fn sent_init(t: &mut Tester) -> Init {
    let sent = t.sent_one();
    assert_eq!(sent.vtag(), 0, "INIT goes with Verification Tag 0");
    assert_eq!(sent.to, t.from);
    match sent.only() {
        Chunk::Init(init) => init.clone(),
        other => panic!("expected INIT, got {other}"),
    }
}

/// An IUT that has just sent its INIT to the tester (the client side);
/// returns the association and that INIT, read by `sent_init`.
#[track_caller]
pub fn client_init() -> (Tester, AssocId, Init) {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    let ours = sent_init(&mut t);
    (t, id, ours)
}

/// A client IUT whose INIT the tester answered (tag `peer_tag`, see
/// `answer_init`) and that has sent its COOKIE ECHO, checked to go alone
/// under `peer_tag` with the tester's cookie. Returns the association, the
/// IUT's INIT and the COOKIE ECHO packet.
#[track_caller]
pub fn cookie_echoed(peer_tag: u32) -> (Tester, AssocId, Init, Sent) {
    let (mut t, id) = client();
    // IUT -> INIT -> T
    // T -> INIT ACK -> IUT
    let (ours, cookie) = answer_init(&mut t, peer_tag, vec![]);
    // IUT -> COOKIE ECHO -> T
    let echo = t.sent_one();
    assert_eq!(echo.vtag(), peer_tag, "COOKIE ECHO's Verification Tag");
    assert_eq!(echo.only(), &cookie_echo(&cookie));
    (t, id, ours, echo)
}

/// Reads the IUT's INIT and answers it with an INIT ACK (the `INIT_ACK`
/// template) carrying tag `peer_tag`, an opaque cookie and `extra`
/// parameters. Returns the INIT and the cookie.
#[track_caller]
pub fn answer_init(t: &mut Tester, peer_tag: u32, extra: Vec<Param>) -> (Init, Bytes) {
    let Chunk::Init(sent) = t.sent_one().only().clone() else {
        panic!("expected INIT")
    };
    let cookie = Bytes::from_static(b"tester's opaque cookie");
    let mut params = vec![Param::StateCookie(cookie.clone())];
    params.extend(extra);
    let ack = Init {
        initiate_tag: peer_tag,
        params,
        ..INIT_ACK
    };
    t.send(sent.initiate_tag, &[Chunk::InitAck(ack)]);
    (sent, cookie)
}

/// A listening IUT of default parameters that has answered the tester's
/// INIT (Initiate Tag `peer_tag`); returns the IUT's INIT ACK.
#[track_caller]
pub fn init_acked(peer_tag: u32) -> (Tester, Init) {
    let mut t = Tester::server();
    let ack = send_init(&mut t, init(peer_tag));
    (t, ack)
}

/// Sends the tester's INIT (tag 0) and returns the IUT's INIT ACK, checked
/// to go alone to the INIT's source with the INIT's Initiate Tag.
#[track_caller]
pub fn send_init(t: &mut Tester, init: Init) -> Init {
    let tag = init.initiate_tag;
    t.send(0, &[Chunk::Init(init)]);
    let sent = t.sent_one();
    assert_eq!(sent.to, t.from, "INIT ACK goes to the INIT's source");
    assert_eq!(sent.vtag(), tag, "INIT ACK carries the INIT's Initiate Tag");
    match sent.only() {
        Chunk::InitAck(ack) => ack.clone(),
        other => panic!("expected INIT ACK, got {other}"),
    }
}

/// Echoes the cookie of the IUT's INIT ACK `ack` under `ack`'s tag; returns
/// the IUT's single reply.
#[track_caller]
pub fn echo_cookie(t: &mut Tester, ack: &Init) -> Sent {
    let cookie = ack.state_cookie().expect("INIT ACK has a State Cookie");
    t.send(ack.initiate_tag, &[cookie_echo(cookie)]);
    t.sent_one()
}

/// The single event pending is Up.
#[track_caller]
pub fn up(t: &mut Tester) -> (AssocId, Established) {
    let events = t.events();
    match &events[..] {
        [(id, Event::Up(up))] => (*id, up.clone()),
        _ => panic!("expected one Up event: {events:?}"),
    }
}

/// The first of `events` is Up; returns its association.
#[track_caller]
pub fn up_first(events: &[(AssocId, Event)]) -> AssocId {
    match events.first() {
        Some((id, Event::Up(_))) => *id,
        _ => panic!("expected Up first: {events:?}"),
    }
}

pub fn state(t: &Tester, id: AssocId) -> Option<AssociationState> {
    t.iut.association(id).map(|a| a.state())
}

/// The peer IP addresses of an association that came up, sorted.
pub fn ips(up: &Established) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = up.peer_addresses.iter().map(SocketAddr::ip).collect();
    ips.sort();
    ips
}

/// Opens a cookie the IUT sealed: an endpoint's first key is the first
/// `KEY_LEN` bytes of its generator, seeded with `IUT_SEED` (see
/// `Endpoint::new`).
pub fn open_cookie(sealed: &[u8]) -> StateCookie {
    let mut rng = Random::from_seed(IUT_SEED);
    let mut secret = [0; KEY_LEN];
    rng.fill(&mut secret);
    let rotation = u64::try_from(Config::default().cookie_key_rotation.as_millis()).unwrap();
    CookieKeys::new(secret, 0, rotation)
        .authenticate(sealed)
        .expect("a cookie the IUT sealed")
}

// ---- the user of the IUT ----

/// The user of the IUT sends `payload` on stream 0, ordered, PPID 7.
#[track_caller]
pub fn user_sends(t: &mut Tester, id: AssocId, payload: impl AsRef<[u8]>) {
    user_sends_on(t, id, 0, payload, false);
}

/// The user of the IUT queues `payload` on `stream` with PPID 7.
#[track_caller]
pub fn user_sends_on(
    t: &mut Tester,
    id: AssocId,
    stream: u16,
    payload: impl AsRef<[u8]>,
    unordered: bool,
) {
    let payload = Bytes::copy_from_slice(payload.as_ref());
    t.iut
        .association_mut(id)
        .unwrap()
        .send(stream, 7, payload, unordered)
        .unwrap();
}

/// The messages the IUT's user can read from `id` now.
pub fn delivered(t: &mut Tester, id: AssocId) -> Vec<Bytes> {
    recv_all(t, id).into_iter().map(|(_, data)| data).collect()
}

/// The IUT's user reads exactly `messages` from `id` now, in order.
#[track_caller]
pub fn assert_delivered(t: &mut Tester, id: AssocId, messages: &[&[u8]]) {
    assert_eq!(delivered(t, id), messages);
}

/// The first event pending is Up, and the user of that association reads
/// exactly `messages` from it now, in order; returns the association.
#[track_caller]
pub fn assert_up_and_delivered(t: &mut Tester, messages: &[&[u8]]) -> AssocId {
    let id = up_first(&t.events());
    assert_delivered(t, id, messages);
    id
}

/// The messages the IUT's user can read from `id` now, with their streams.
pub fn recv_all(t: &mut Tester, id: AssocId) -> Vec<(u16, Bytes)> {
    let mut assoc = t.iut.association_mut(id).unwrap();
    std::iter::from_fn(|| assoc.recv().map(|m| (m.stream, m.data))).collect()
}

/// The single DATA chunk of a packet of the IUT's, to the tester under
/// `peer_tag`.
#[track_caller]
pub fn only_data(sent: &Sent, peer_tag: u32) -> Data {
    assert_eq!(sent.to, tester_addr());
    assert_eq!(sent.vtag(), peer_tag, "DATA's Verification Tag");
    match sent.only() {
        Chunk::Data(d) => d.clone(),
        other => panic!("expected DATA, got {other}"),
    }
}

// ---- time ----

/// Lets `span` pass in 100 ms steps, running timers; returns what the IUT
/// sent and when (time since the call).
pub fn run_for(t: &mut Tester, span: Duration) -> Vec<(Duration, Sent)> {
    let step = Duration::from_millis(100);
    let mut elapsed = Duration::ZERO;
    let mut out = Vec::new();
    while elapsed < span {
        t.advance(step);
        elapsed += step;
        out.extend(t.sent().into_iter().map(|s| (elapsed, s)));
    }
    out
}

/// Every packet the IUT sends within `span` (timers run in 100 ms steps),
/// starting with what it has to send now.
pub fn sent_within(t: &mut Tester, span: Duration) -> Vec<Sent> {
    let mut out = t.sent();
    out.extend(run_for(t, span).into_iter().map(|(_, s)| s));
    out
}

/// The IUT sends no DATA within `span` (timers run): nothing is
/// retransmitted.
#[track_caller]
pub fn assert_no_data_within(t: &mut Tester, span: Duration) {
    let sent = sent_within(t, span);
    assert!(data_in(&sent).is_empty(), "{sent:#?}");
}

/// When each packet of `run_for`'s was sent.
pub fn times(sent: &[(Duration, Sent)]) -> Vec<Duration> {
    sent.iter().map(|(at, _)| *at).collect()
}

pub fn secs(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&s| Duration::from_secs(s)).collect()
}

pub fn millis(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&m| Duration::from_millis(m)).collect()
}

// ---- checks ----

/// The packet holds one ABORT with this tag, T bit and causes.
#[track_caller]
pub fn assert_abort(sent: &Sent, vtag: u32, t_bit: bool, causes: &[ErrorCause]) {
    assert_eq!(
        sent.packet.chunks,
        [Chunk::Abort(Abort {
            reflected_tag: t_bit,
            causes: causes.to_vec(),
        })]
    );
    assert_eq!(sent.vtag(), vtag, "ABORT's Verification Tag");
}

/// The packet is an ABORT with the T bit and the tag `vtag` reflected, to
/// `to` from the IUT's port to the tester's.
#[track_caller]
pub fn assert_reflected_abort(sent: &Sent, vtag: u32, to: SocketAddr) {
    assert_eq!(sent.to, to, "reply goes to the packet's source");
    assert_ports(sent);
    assert_eq!(sent.vtag(), vtag, "the packet's tag is reflected");
    match sent.only() {
        Chunk::Abort(a) => assert!(a.reflected_tag, "T bit set: {a:?}"),
        other => panic!("expected ABORT, got {other:?}"),
    }
}

/// The packet goes from the IUT's SCTP port to the tester's.
#[track_caller]
pub fn assert_ports(sent: &Sent) {
    assert_eq!(
        (sent.packet.header.src_port, sent.packet.header.dst_port),
        (super::IUT_PORT, super::TESTER_PORT)
    );
}

/// The association is ESTABLISHED with these tags (this end's, the
/// peer's).
#[track_caller]
pub fn assert_established(t: &Tester, id: AssocId, local_tag: u32, peer_tag: u32) {
    let assoc = t.iut.association(id).expect("the association is there");
    assert_eq!(assoc.state(), AssociationState::Established);
    assert_eq!((assoc.local_tag(), assoc.peer_tag()), (local_tag, peer_tag));
}

/// The association is still ESTABLISHED with these tags (this end's, the
/// peer's), and the user has been told nothing.
#[track_caller]
pub fn assert_unchanged(t: &mut Tester, id: AssocId, local_tag: u32, peer_tag: u32) {
    assert_established(t, id, local_tag, peer_tag);
    let events = t.events();
    assert!(events.is_empty(), "{events:?}");
}

/// The association is ESTABLISHED with these tags (this end's, the
/// peer's) and alive: a HEARTBEAT under `local_tag` is answered.
#[track_caller]
pub fn assert_established_and_alive(t: &mut Tester, id: AssocId, local_tag: u32, peer_tag: u32) {
    assert_established(t, id, local_tag, peer_tag);
    // T -> HEARTBEAT -> IUT; IUT -> HEARTBEAT ACK -> T
    assert_alive(t, local_tag, peer_tag);
}

/// The IUT sends nothing now and holds no association.
#[track_caller]
pub fn assert_nothing_set_up(t: &mut Tester) {
    t.sent_nothing();
    assert_eq!(t.iut.association_count(), 0);
}

/// The IUT refuses to connect with `config`, an invalid configuration.
#[track_caller]
pub fn assert_connect_refused(t: &mut Tester, config: Config) {
    let now = t.now;
    let options = ConnectOptions::default().with_config(Some(config));
    let refused = t.iut.connect_with(
        now,
        "10.0.0.3:9899".parse().unwrap(),
        super::TESTER_PORT,
        options,
    );
    assert!(matches!(refused, Err(ConnectError::InvalidConfig(_))));
}

/// Every event pending is one `expected` says yes to (there may be none).
#[track_caller]
pub fn assert_events_only(t: &mut Tester, expected: impl Fn(&Event) -> bool) {
    let events = t.events();
    assert!(events.iter().all(|(_, e)| expected(e)), "{events:?}");
}

/// The IUT gave up on setting up `id` for `error`, told the user, and
/// holds no association.
#[track_caller]
pub fn assert_cant_start(t: &mut Tester, id: AssocId, error: AssociationError) {
    assert_eq!(t.events(), [(id, Event::CantStart(error))]);
    assert_eq!(t.iut.association_count(), 0);
}

/// The IUT gave up on setting up `id` and told the user; the association
/// is gone, and nothing more is sent for it.
#[track_caller]
pub fn assert_attempt_ended(t: &mut Tester, id: AssocId) {
    let events = t.events();
    assert!(
        matches!(events[..], [(i, Event::CantStart(_))] if i == id),
        "{events:?}"
    );
    assert_eq!(state(t, id), None);
    t.advance(Duration::from_secs(2));
    t.sent_nothing();
}

/// The IUT did not take the INIT just sent (no INIT ACK; an ABORT is
/// tolerated) and holds nothing for it, and it answers a clean INIT of
/// tag `tag`.
#[track_caller]
pub fn assert_init_dropped_and_a_clean_one_answered(t: &mut Tester, tag: u32) {
    // IUT: no INIT ACK (an ABORT is tolerated)
    for sent in t.sent() {
        assert!(
            matches!(sent.only(), Chunk::Abort(_)),
            "{:?}",
            sent.packet.chunks
        );
    }
    assert_eq!(t.iut.association_count(), 0);
    // T -> INIT -> IUT
    // IUT -> INIT ACK -> T
    send_init(t, init(tag));
}

/// The IUT is still in COOKIE-WAIT, and T1-init (1 s) sends its INIT
/// `ours` again.
#[track_caller]
pub fn assert_init_resent(t: &mut Tester, id: AssocId, ours: &Init) {
    assert_eq!(state(t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init)
    t.advance(Duration::from_secs(1));
    assert_eq!(&sent_init(t), ours);
}

/// The IUT sends one packet now, to the tester's address (`t.from`): one
/// ABORT with this tag, T bit and causes (see `assert_abort`).
#[track_caller]
pub fn assert_sends_abort(t: &mut Tester, vtag: u32, t_bit: bool, causes: &[ErrorCause]) {
    let reply = t.sent_one();
    assert_eq!(reply.to, t.from, "ABORT goes to the tester");
    assert_abort(&reply, vtag, t_bit, causes);
}

/// An out-of-the-blue packet from the tester under `vtag` drew an ABORT
/// with the T bit and that tag reflected, to the packet's source; nothing
/// was set up.
#[track_caller]
pub fn assert_ootb_abort(t: &mut Tester, vtag: u32) {
    // IUT -> ABORT (T bit) -> T
    assert_sends_abort(t, vtag, true, &[]);
    assert_eq!(t.iut.association_count(), 0);
}

/// The tester sends an INIT (tag `peer_tag`) listing the Host Name Address
/// `name`; returns the IUT's single reply, checked to go to the tester.
#[track_caller]
pub fn send_init_with_host_name(t: &mut Tester, peer_tag: u32, name: &'static [u8]) -> Sent {
    let name = Param::HostNameAddress(Bytes::from_static(name));
    // T -> INIT (Host Name Address) -> IUT
    t.send(0, &[Chunk::Init(init_with(peer_tag, vec![name]))]);
    let reply = t.sent_one();
    assert_eq!(reply.to, tester_addr());
    reply
}

/// The packet is one ABORT under `vtag`, without the T bit, carrying only
/// an Unresolvable Address cause for a Host Name Address; returns that
/// cause's parameter (TLV).
#[track_caller]
pub fn assert_unresolvable_host_name(reply: &Sent, vtag: u32) -> Bytes {
    assert_eq!(reply.vtag(), vtag);
    let Chunk::Abort(abort) = reply.only() else {
        panic!("expected ABORT, got {}", reply.only())
    };
    assert!(!abort.reflected_tag);
    let [ErrorCause::UnresolvableAddress(p)] = &abort.causes[..] else {
        panic!("{:?}", abort.causes)
    };
    assert_eq!(tlv_types(p), [ParamType::HOST_NAME_ADDRESS.0]);
    p.clone()
}

/// The IUT, its INIT `ours` unanswered, is still in COOKIE-WAIT and has
/// told the user nothing; its INIT goes again on T1-init, and the handshake
/// completes with a peer of tag `peer_tag`.
#[track_caller]
pub fn assert_setup_goes_on(t: &mut Tester, id: AssocId, ours: &Init, peer_tag: u32) {
    assert!(t.events().is_empty());
    assert_eq!(state(t, id), Some(AssociationState::CookieWait));
    // IUT -> INIT -> T (T1-init)
    // T -> INIT ACK -> IUT
    t.advance(Duration::from_secs(1));
    let (again, _) = answer_init(t, peer_tag, vec![]);
    assert_eq!(&again, ours);
    // IUT -> COOKIE ECHO -> T
    assert!(matches!(t.sent_one().only(), Chunk::CookieEcho(_)));
    // T -> COOKIE ACK -> IUT
    t.send(ours.initiate_tag, &[Chunk::CookieAck]);
    assert_eq!(up(t).0, id);
}

/// What the IUT sent is one ABORT for a Protocol Violation.
#[track_caller]
pub fn assert_protocol_violation(sent: &[Sent]) {
    // IUT -> ABORT (Protocol Violation) -> T
    let [abort] = sent else { panic!("{sent:#?}") };
    let Chunk::Abort(a) = abort.only() else {
        panic!("expected ABORT, got {:?}", abort.packet.chunks)
    };
    assert!(
        matches!(a.causes[..], [ErrorCause::ProtocolViolation(_)]),
        "{a}"
    );
}

/// The association is alive with these tags: a HEARTBEAT under `iut_tag` is
/// answered, under `peer_tag`, with the Heartbeat Info unchanged.
#[track_caller]
pub fn assert_alive(t: &mut Tester, iut_tag: u32, peer_tag: u32) {
    let hb = Heartbeat {
        info: Bytes::from_static(b"are you still there?"),
    };
    // T -> HEARTBEAT -> IUT
    t.send(iut_tag, &[Chunk::Heartbeat(hb.clone())]);
    // IUT -> HEARTBEAT ACK -> T
    let reply = t.sent_one();
    assert_eq!(
        reply.to, t.from,
        "HEARTBEAT ACK goes to the HEARTBEAT's source"
    );
    assert_eq!(reply.vtag(), peer_tag);
    assert_eq!(reply.packet.chunks, [Chunk::HeartbeatAck(hb)]);
}

/// No event says the user has something to read.
#[track_caller]
pub fn assert_not_readable(events: &[(AssocId, Event)]) {
    assert!(
        events.iter().all(|(_, e)| !matches!(e, Event::Readable)),
        "{events:?}"
    );
}

/// How long a delayed SACK waits (RFC 9260 §6.2: the recommended 200 ms).
pub const SACK_DELAY: Duration = Duration::from_millis(200);

/// An established association whose user has one DATA chunk outstanding;
/// returns the IUT's tag, the association and that DATA's TSN.
#[track_caller]
pub fn with_outstanding(peer: u32, payload: &'static [u8]) -> (Tester, u32, AssocId, Tsn) {
    let (t, iut_tag, id, data) = with_outstanding_data(peer, payload);
    (t, iut_tag, id, data.tsn)
}

/// The default configuration with RFC 9260's loss detection alone (§7.2.4,
/// T3-rtx): for the test purposes that check those timers and counts,
/// which RACK-TLP, the default, pre-empts.
pub fn rfc9260_loss_detection() -> Config {
    Config::default().with_loss_detection(usctp_proto::config::LossDetection::Rfc9260)
}

/// An established association whose user has sent `payload`; returns the
/// IUT's tag, the association and the one DATA chunk it went in (checked
/// to carry the IUT's Initial TSN).
#[track_caller]
pub fn with_outstanding_data(peer: u32, payload: &'static [u8]) -> (Tester, u32, AssocId, Data) {
    let (mut t, iut_tag, id, iut_tsn) = established_with(Config::default(), peer);
    user_sends(&mut t, id, payload);
    // IUT -> DATA -> T
    let data = only_data(&t.sent_one(), peer);
    assert_eq!(data.tsn, iut_tsn);
    (t, iut_tag, id, data)
}
