//! The tester's side when the IUT is the client: it starts the IUT's
//! client command and answers its handshake.

use std::os::unix::process::CommandExt as _;
use std::time::Duration;

use bytes::Bytes;
use usctp::proto::chunk::{Chunk, Init, Param};

use super::{Assoc, Received, Wire};
use crate::conformance::Outcome;

impl Wire {
    /// Starts the IUT's client command, which connects to the tester.
    pub fn start_client(&mut self) -> Result<(), Outcome> {
        let Some(template) = &self.client_cmd else {
            return Err(Outcome::fail("no client command"));
        };
        let local = self.local(0);
        let command = template
            .replace("{host}", &local.ip().to_string())
            .replace("{udp}", &local.port().to_string())
            .replace("{port}", &self.port.to_string());
        // A process group of its own, so that stopping it stops what the
        // shell started too.
        let child = std::process::Command::new("sh")
            .args(["-c", &command])
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| Outcome {
                verdict: crate::conformance::Verdict::Inconclusive,
                why: format!("starting the client command: {e}"),
            })?;
        self.client = Some(child);
        Ok(())
    }

    /// Stops the client command and everything it started, and forgets
    /// what it sent.
    pub fn stop_client(&mut self) {
        if let Some(mut client) = self.client.take() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", client.id())])
                .stderr(std::process::Stdio::null())
                .status();
            let _ = client.kill();
            let _ = client.wait();
        }
        std::thread::sleep(Duration::from_millis(50));
        self.drain();
    }

    /// Starts the client and waits for its INIT; the IUT's address and
    /// SCTP port are then the INIT's source.
    pub fn client_init(&mut self) -> Result<Init, Outcome> {
        self.start_client()?;
        self.expect_init(self.timing.timer)
    }

    /// Waits for an INIT from the IUT (a first one or a retransmission).
    pub fn expect_init(&mut self, within: Duration) -> Result<Init, Outcome> {
        let (init, from, port) = self.expect("INIT from the IUT", within, |r| {
            let packet = r.packet.as_ref().ok()?;
            packet.chunks.iter().find_map(|c| match c {
                Chunk::Init(i) => Some((i.clone(), r.from, packet.header.src_port)),
                _ => None,
            })
        })?;
        if self.last.as_ref().and_then(Received::vtag) != Some(0) {
            return Err(Outcome::fail(
                "the INIT's packet does not carry tag 0 (§8.5.1)",
            ));
        }
        self.iut = from;
        self.iut_port = port;
        Ok(init)
    }

    /// The tester's INIT ACK to the IUT's INIT: a new tag and TSN, 16 streams each
    /// way, and a State Cookie of random bytes.
    pub fn init_ack_for(&mut self) -> Init {
        let mut cookie = [0u8; 24];
        self.random.fill(&mut cookie);
        let mut ack = self.init();
        ack.params = vec![Param::StateCookie(Bytes::copy_from_slice(&cookie))];
        ack
    }

    /// Waits for the COOKIE ECHO answering the tester's INIT ACK `ack`.
    pub fn expect_cookie_echo(&mut self, ack: &Init, within: Duration) -> Result<Bytes, Outcome> {
        let own = ack.initiate_tag;
        let cookie = self.expect("COOKIE ECHO", within, |r| {
            (r.vtag() == Some(own))
                .then(|| {
                    r.chunks().iter().find_map(|c| match c {
                        Chunk::CookieEcho(e) => Some(e.cookie.clone()),
                        _ => None,
                    })
                })
                .flatten()
        })?;
        if Some(&cookie) != ack.state_cookie() {
            return Err(Outcome::fail(
                "the COOKIE ECHO does not carry the INIT ACK's cookie (§5.1)",
            ));
        }
        Ok(cookie)
    }

    /// The tester's side of the IUT's handshake: the INIT ACK `ack` to
    /// `init`, the COOKIE ECHO, the COOKIE ACK (with `more` chunks behind
    /// it). The association is then up.
    pub fn accept_with(&mut self, init: Init, ack: Init, more: Vec<Chunk>) -> Result<(), Outcome> {
        self.send(init.initiate_tag, vec![Chunk::InitAck(ack.clone())]);
        let reply = self.timing.reply;
        self.expect_cookie_echo(&ack, reply)?;
        let mut chunks = vec![Chunk::CookieAck];
        chunks.extend(more);
        self.send(init.initiate_tag, chunks);
        self.assoc = Some(Assoc {
            peer_tag: init.initiate_tag,
            own_tag: ack.initiate_tag,
            next_tsn: ack.initial_tsn,
            cum_ack: init.initial_tsn.prev(),
            ssn: vec![0; usize::from(ack.outbound_streams)],
            ack: init,
        });
        Ok(())
    }

    /// Starts the client and completes its handshake.
    pub fn accept_client(&mut self) -> Result<(), Outcome> {
        let init = self.client_init()?;
        let ack = self.init_ack_for();
        self.accept_with(init, ack, Vec::new())
    }
}
