//! Protocol parameters, with the defaults of RFC 9260 §16.

use std::time::Duration;

/// The protocol parameters of an endpoint and the associations it makes.
///
/// Each field names the RFC 9260 parameter it sets; defaults are §16's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// RTO.Initial: the retransmission timeout before any RTT is measured
    /// (§16: 1 second).
    pub rto_initial: Duration,
    /// RTO.Min (§16: 1 second).
    pub rto_min: Duration,
    /// RTO.Max (§16: 60 seconds).
    pub rto_max: Duration,
    /// Max.Init.Retransmits: INIT and COOKIE ECHO retransmissions before
    /// giving up (§16: 8).
    pub max_init_retransmits: u32,
    /// Max.Burst: new packets sent at once at most (§16: 4; §6.1 D).
    pub max_burst: u32,
    /// Association.Max.Retrans (§16: 10).
    pub association_max_retrans: u32,
    /// Path.Max.Retrans (§16: 5).
    pub path_max_retrans: u32,
    /// HB.interval (§16: 30 seconds).
    pub hb_interval: Duration,
    /// PotentiallyFailed.Max.Retrans (RFC 7829 §3.2, PFMR): a path whose
    /// error count passes this is potentially failed and new data leaves it
    /// at once. 0, the default, acts on the first timeout; a value at or
    /// above `path_max_retrans` turns SCTP-PF off.
    pub pf_max_retrans: u32,
    /// Whether new data returns to the chosen primary path once it is
    /// reachable again after a failover (RFC 7829 §5 calls staying on the
    /// alternate "Primary Path Switchover").
    pub primary_failback: bool,
    /// Valid.Cookie.Life: how long a state cookie stays valid (§16: 60
    /// seconds).
    pub valid_cookie_life: Duration,
    /// The most a peer's Cookie Preservative may add to
    /// `valid_cookie_life` (§5.1.3 lets the receiver bound it).
    pub max_cookie_preservative: Duration,
    /// How often the cookie key changes; the previous key stays valid for
    /// one more interval.
    pub cookie_key_rotation: Duration,
    /// Outbound streams requested in INIT / offered in INIT ACK.
    pub outbound_streams: u16,
    /// Inbound streams accepted at most (MIS).
    pub max_inbound_streams: u16,
    /// Advertised receiver window (a_rwnd) when nothing is buffered.
    pub receive_window: u32,
    /// SACK.Delay: the longest a SACK waits for a second packet (§16:
    /// 200 ms; §6.2 caps it at 500 ms).
    pub sack_delay: std::time::Duration,
    /// Payload bytes queued or in flight per association before `send`
    /// says `WouldBlock`.
    pub send_buffer: usize,
    /// Largest message `send` accepts.
    pub max_message_size: usize,
    /// Largest SCTP packet sent, common header included, until path MTU
    /// discovery confirms a larger one (and always with discovery off): the
    /// path MTU less the IP header and UDP's 8 bytes (RFC 6951 §5.6). 1200
    /// fits the IPv6 minimum MTU of 1280 with room to spare; it is the
    /// search's base (RFC 8899 §5.1.2, BASE_PLPMTU).
    pub max_packet_size: usize,
    /// Path MTU discovery (RFC 8899): the largest IP packet to probe each
    /// path for, IP and UDP headers included (`None`: no discovery, every
    /// packet at most `max_packet_size`). 1500 is an Ethernet link's MTU: a
    /// path through one carries SCTP packets of 1472 bytes over IPv4 and
    /// 1452 over IPv6. Set it to the local interface's MTU for larger
    /// frames. Paths to loopback addresses are not probed.
    pub path_mtu_limit: Option<usize>,
    /// How long a path MTU probe waits for its answer before it counts as
    /// lost (RFC 8899 §5.1.1, PROBE_TIMER: at least 1 s, and it should be
    /// above 15 s). Three lost probes of a size end the search at it. Only
    /// sizes above the confirmed one are probed, so a slow answer delays
    /// larger packets and never stalls data.
    pub pmtu_probe_timeout: std::time::Duration,
    /// Largest SCTP packet sent to a peer on a loopback address, in place of
    /// `max_packet_size` (`None`: no exception). The loopback interface's MTU
    /// (64 KiB on Linux) cannot shrink on the way, so the conservative
    /// default for unknown paths only costs fragments there: with 1200-byte
    /// packets a 1200-byte message goes as two. 1452 is an Ethernet frame
    /// less IPv6 and UDP headers.
    pub loopback_packet_size: Option<usize>,
    /// Replies to out-of-the-blue packets (ABORT, SHUTDOWN COMPLETE, Stale
    /// Cookie ERROR) sent per second at most, so the endpoint cannot be used
    /// to reflect traffic at a third party. INIT ACKs are not counted: they
    /// are bounded by size (at most four times the INIT) and by the queue of
    /// unsent replies, so a flood cannot starve real peers of them.
    pub stateless_replies_per_second: u32,
    /// The size from which a message is handed to the user in parts before
    /// it is complete (RFC 6458 §8.1.21, SCTP_PARTIAL_DELIVERY_POINT);
    /// `None`: half the receive window. A message larger than the receive
    /// window can only arrive this way; the point is kept at most half the
    /// window.
    pub partial_delivery_point: Option<usize>,
    /// The payload of each fragment at most (SCTP_MAXSEG); `None`: as much
    /// as a packet carries.
    pub max_fragment_size: Option<usize>,
    /// Whether a message larger than one fragment is sent in fragments;
    /// `false` refuses it (SCTP_DISABLE_FRAGMENTS).
    pub fragmentation: bool,
    /// Shut an association down gracefully after this long without DATA
    /// either way (SCTP_AUTOCLOSE); `None`: never.
    pub autoclose: Option<Duration>,
    /// The Adaptation Layer Indication to put in INIT and INIT ACK (RFC
    /// 5061 §4.2.6, SCTP_ADAPTATION_LAYER); `None`: none.
    pub adaptation_indication: Option<u32>,
    /// Whether idle paths are probed with heartbeats (§8.3;
    /// SCTP_PEER_ADDR_PARAMS' SPP_HB_ENABLE / SPP_HB_DISABLE). Unconfirmed
    /// addresses are always probed (§5.4).
    pub heartbeats: bool,
    /// Packets with DATA acknowledged together at most (§6.2's "every
    /// second packet", SCTP_DELAYED_SACK's sack_freq); 1 acknowledges
    /// every packet.
    pub sack_frequency: u32,
    /// How losses are found before T3-rtx expires.
    pub loss_detection: LossDetection,
    /// How each destination's congestion window grows and shrinks.
    pub congestion_control: CongestionControl,
}

crate::with_setters! {
    Config {
        with_rto_initial => rto_initial: Duration,
        with_rto_min => rto_min: Duration,
        with_rto_max => rto_max: Duration,
        with_max_init_retransmits => max_init_retransmits: u32,
        with_max_burst => max_burst: u32,
        with_association_max_retrans => association_max_retrans: u32,
        with_path_max_retrans => path_max_retrans: u32,
        with_hb_interval => hb_interval: Duration,
        with_pf_max_retrans => pf_max_retrans: u32,
        with_primary_failback => primary_failback: bool,
        with_valid_cookie_life => valid_cookie_life: Duration,
        with_max_cookie_preservative => max_cookie_preservative: Duration,
        with_cookie_key_rotation => cookie_key_rotation: Duration,
        with_outbound_streams => outbound_streams: u16,
        with_max_inbound_streams => max_inbound_streams: u16,
        with_receive_window => receive_window: u32,
        with_sack_delay => sack_delay: std::time::Duration,
        with_send_buffer => send_buffer: usize,
        with_max_message_size => max_message_size: usize,
        with_max_packet_size => max_packet_size: usize,
        with_path_mtu_limit => path_mtu_limit: Option<usize>,
        with_pmtu_probe_timeout => pmtu_probe_timeout: std::time::Duration,
        with_loopback_packet_size => loopback_packet_size: Option<usize>,
        with_stateless_replies_per_second => stateless_replies_per_second: u32,
        with_partial_delivery_point => partial_delivery_point: Option<usize>,
        with_max_fragment_size => max_fragment_size: Option<usize>,
        with_fragmentation => fragmentation: bool,
        with_autoclose => autoclose: Option<Duration>,
        with_adaptation_indication => adaptation_indication: Option<u32>,
        with_heartbeats => heartbeats: bool,
        with_sack_frequency => sack_frequency: u32,
        with_loss_detection => loss_detection: LossDetection,
        with_congestion_control => congestion_control: CongestionControl,
    }
}

/// The congestion controller of each destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CongestionControl {
    /// RFC 9260 §7.2: slow start, one PMDCS per cwnd acknowledged in
    /// congestion avoidance, cwnd halved on loss.
    #[default]
    Rfc9260,
    /// CUBIC (RFC 9438): cwnd cut to 0.7 on loss and regrown along a cubic
    /// curve toward where the loss happened, never slower than Reno would
    /// at that decrease; SCTP's slow start and T3-rtx collapse unchanged.
    Cubic,
}

/// How the sender finds lost DATA before T3-rtx expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LossDetection {
    /// RACK-TLP (RFC 8985) on SCTP's TSNs: a chunk is lost once a chunk
    /// sent after it has been acknowledged and a reordering window has
    /// passed, so lost retransmissions and losses in a small window are
    /// found from the next SACK; a loss probe two round trips after the
    /// last acknowledgement finds losses at the tail of a flight. Until the
    /// link is seen to reorder, three chunks acknowledged past a gap (RFC
    /// 9260's miss indications) or a recovery in progress make the window
    /// zero.
    #[default]
    Rack,
    /// RFC 9260 §7.2.4 alone: a chunk is fast-retransmitted after three
    /// miss indications, once; everything else waits for T3-rtx.
    Rfc9260,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_secs(1),
            rto_max: Duration::from_secs(60),
            max_init_retransmits: 8,
            max_burst: 4,
            association_max_retrans: 10,
            path_max_retrans: 5,
            hb_interval: Duration::from_secs(30),
            pf_max_retrans: 0,
            primary_failback: true,
            valid_cookie_life: Duration::from_secs(60),
            max_cookie_preservative: Duration::from_secs(60),
            cookie_key_rotation: Duration::from_secs(3600),
            outbound_streams: 10,
            max_inbound_streams: 2048,
            receive_window: 1 << 20,
            sack_delay: Duration::from_millis(200),
            send_buffer: 1 << 20,
            max_message_size: 1 << 20,
            max_packet_size: 1200,
            path_mtu_limit: Some(1500),
            pmtu_probe_timeout: Duration::from_secs(15),
            loopback_packet_size: Some(1452),
            stateless_replies_per_second: 1000,
            partial_delivery_point: None,
            max_fragment_size: None,
            fragmentation: true,
            autoclose: None,
            adaptation_indication: None,
            heartbeats: true,
            sack_frequency: 2,
            loss_detection: LossDetection::Rack,
            congestion_control: CongestionControl::Rfc9260,
        }
    }
}

/// The largest UDP payload over IPv4: 65,535 less the IP and UDP headers.
pub(crate) const MAX_UDP_PAYLOAD: usize = 65_507;

impl Config {
    /// The partial delivery point in force (see
    /// [`Config::partial_delivery_point`]).
    pub fn partial_delivery_point(&self) -> usize {
        let half = (self.receive_window as usize / 2).max(1);
        self.partial_delivery_point.map_or(half, |p| p.min(half))
    }

    /// The largest packet to send to `remote`: `loopback_packet_size` for a
    /// loopback address, `max_packet_size` otherwise.
    pub fn packet_size_to(&self, remote: std::net::SocketAddr) -> usize {
        match self.loopback_packet_size {
            Some(size) if remote.ip().to_canonical().is_loopback() => size,
            _ => self.max_packet_size,
        }
    }

    /// The packet sizes path MTU discovery searches between on the path to
    /// `remote`: the base it starts from (`packet_size_to`) and the largest
    /// it probes for, equal when there is no discovery (off, or a loopback
    /// peer). The limit less the IP header (20 bytes for IPv4, 40 for IPv6)
    /// and UDP's 8 (RFC 6951 §5.6).
    pub fn pmtu_range(&self, remote: std::net::SocketAddr) -> (usize, usize) {
        let base = self.packet_size_to(remote);
        let ip = remote.ip().to_canonical();
        let max = match self.path_mtu_limit {
            Some(limit) if !ip.is_loopback() => {
                let headers = if ip.is_ipv6() { 40 + 8 } else { 20 + 8 };
                limit.saturating_sub(headers).min(MAX_UDP_PAYLOAD).max(base)
            }
            _ => base,
        };
        (base, max)
    }

    /// Checks that the parameters make sense together; the error says
    /// which do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rto_min > self.rto_max {
            return Err(ConfigError::RtoMinAboveMax {
                min: self.rto_min,
                max: self.rto_max,
            });
        }
        if self.rto_initial.is_zero() || self.rto_min.is_zero() {
            return Err(ConfigError::ZeroRto);
        }
        if self.sack_delay > Duration::from_millis(500) {
            return Err(ConfigError::SackDelayTooLong(self.sack_delay));
        }
        // §6.1: no TSN more than 2^31 - 1 above the oldest unacknowledged
        // one. Every chunk carries at least a byte and the send buffer holds
        // at most `send_buffer` bytes plus one message, so bounding the two
        // bounds the TSNs outstanding.
        if self.send_buffer.saturating_add(self.max_message_size) >= 1 << 31 {
            return Err(ConfigError::BuffersTooLarge {
                send_buffer: self.send_buffer,
                max_message_size: self.max_message_size,
            });
        }
        if self.receive_window < 1500 {
            return Err(ConfigError::ReceiveWindowTooSmall(self.receive_window));
        }
        if self.sack_frequency == 0 {
            return Err(ConfigError::ZeroSackFrequency);
        }
        if self.max_fragment_size == Some(0) || self.partial_delivery_point == Some(0) {
            return Err(ConfigError::ZeroFragmentSize);
        }
        if self.outbound_streams == 0 || self.max_inbound_streams == 0 {
            return Err(ConfigError::NoStreams);
        }
        if self.path_mtu_limit.is_some() && self.pmtu_probe_timeout < Duration::from_secs(1) {
            return Err(ConfigError::ProbeTimeoutTooShort(self.pmtu_probe_timeout));
        }
        for size in [Some(self.max_packet_size), self.loopback_packet_size]
            .into_iter()
            .flatten()
        {
            if size < 256 {
                return Err(ConfigError::PacketTooSmall(size));
            }
            if size > MAX_UDP_PAYLOAD {
                return Err(ConfigError::PacketTooLarge(size));
            }
        }
        Ok(())
    }
}

/// Which parameters of a [`Config`] contradict each other or a limit of
/// the protocol ([`Config::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// RTO.Min is above RTO.Max.
    #[error("RTO.Min ({} ms) is above RTO.Max ({} ms)", min.as_millis(), max.as_millis())]
    RtoMinAboveMax {
        /// RTO.Min.
        min: Duration,
        /// RTO.Max.
        max: Duration,
    },
    /// RTO.Initial or RTO.Min is zero.
    #[error("RTO.Initial and RTO.Min must be above zero")]
    ZeroRto,
    /// SACK.Delay is above the 500 ms RFC 9260 §6.2 allows.
    #[error("SACK.Delay ({} ms) must not exceed 500 ms (RFC 9260 §6.2)", .0.as_millis())]
    SackDelayTooLong(Duration),
    /// The send buffer and the largest message could hold more TSNs than
    /// RFC 9260 §6.1 lets be outstanding.
    #[error(
        "send buffer ({send_buffer}) and largest message ({max_message_size}) must together stay under 2 GiB (RFC 9260 §6.1)"
    )]
    BuffersTooLarge {
        /// [`Config::send_buffer`].
        send_buffer: usize,
        /// [`Config::max_message_size`].
        max_message_size: usize,
    },
    /// The receive window is below the 1500 bytes an INIT must advertise.
    #[error(
        "a receive window of {0} bytes is below the 1500 an INIT must advertise (RFC 9260 §3.3.2)"
    )]
    ReceiveWindowTooSmall(u32),
    /// The SACK frequency is zero.
    #[error("the SACK frequency must be at least 1 (every packet)")]
    ZeroSackFrequency,
    /// The fragment size or the partial delivery point is zero.
    #[error("fragment size and partial delivery point must be at least 1")]
    ZeroFragmentSize,
    /// A stream count is zero.
    #[error("stream counts must be at least 1")]
    NoStreams,
    /// The PMTU probe timeout is below RFC 8899 §5.1.1's 1 s.
    #[error("the path MTU probe timeout must be at least 1 s (RFC 8899 §5.1.1)")]
    ProbeTimeoutTooShort(Duration),
    /// A packet size too small to carry an INIT.
    #[error("a packet of {0} bytes is too small to carry an INIT")]
    PacketTooSmall(usize),
    /// A packet size larger than a UDP datagram.
    #[error("a packet of {0} bytes does not fit in a UDP datagram")]
    PacketTooLarge(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_contradictions_are_named() {
        assert_eq!(Config::default().validate(), Ok(()));
        let bad = Config {
            rto_max: Duration::from_millis(200),
            ..Config::default()
        };
        let error = bad.validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            "RTO.Min (1000 ms) is above RTO.Max (200 ms)"
        );
        let no_streams = Config {
            outbound_streams: 0,
            ..Config::default()
        };
        assert!(no_streams.validate().is_err());
    }
}
