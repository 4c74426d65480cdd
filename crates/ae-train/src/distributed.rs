//! Data-parallel training across processes and machines: every rank trains a replica of the
//! model on its own shard of the data, and the gradients are averaged every step over TCP
//! before burn-train's optimizer step, so all ranks hold the same weights after each step.
//!
//! Rank 0 listens at the `orchestrator` address; the other ranks connect to it. Each step,
//! every other rank sends its gradient (all parameters, flattened in the module's visiting
//! order) and rank 0 sends back the mean, the same bytes to all, so the replicas stay
//! bit-identical; at the end each rank sends a checksum of its weights and rank 0 checks them.
//! A rank that dies closes its connection: the others stop with an error naming it at once; a
//! rank that hangs is named after `timeout_seconds`.
//!
//! Why not burn-collective: its global (multi-node) all-reduce in 0.21 hangs on the first call
//! on loopback with the ring and centralized strategies we tried (burn's own issue
//! tracel-ai/burn#4549 reports its transfer ids colliding between calls), and it has no
//! timeout, so a dead rank would hang the others.
//! This is one socket per rank and a star reduction: for the two to four CPU processes it
//! serves, the same bytes on the wire as a ring.
//!
//! ```no_run
//! use ae_train::distributed::DistributedConfig;
//! // rank 1 of 2; rank 0 runs the same config with node_rank 0 on host-a.
//! let settings = DistributedConfig::new(2, 1, "host-a:29500");
//! assert!(settings.validate().is_ok());
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, LearningRate, MultiGradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Tensor, TensorData};
use burn::train::Interrupter;
use serde::{Deserialize, Serialize};

use crate::{ExperimentConfig, TrainError};

fn default_timeout() -> u64 {
    300
}

/// The `[distributed]` table: this process's place in a training job of several processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributedConfig {
    /// Processes in the job (each trains on `1/nodes` of the data with `batch_size / nodes`
    /// items per step).
    pub nodes: usize,
    /// This process's rank, `0..nodes`; rank 0 listens, checkpoints and writes the run.
    pub node_rank: usize,
    /// `HOST:PORT` where rank 0 listens (rank 0 binds it; the others connect to it).
    pub orchestrator: String,
    /// Seconds to wait for the other ranks (to join, to send a step's gradient) before
    /// stopping with an error naming the rank.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

impl DistributedConfig {
    /// Rank `node_rank` of `nodes`, rank 0 at `orchestrator`, waiting up to 300 s.
    pub fn new(nodes: usize, node_rank: usize, orchestrator: impl Into<String>) -> Self {
        Self {
            nodes,
            node_rank,
            orchestrator: orchestrator.into(),
            timeout_seconds: default_timeout(),
        }
    }

    /// Checks the values that can be checked without the network.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |m: String| Err(TrainError::Invalid(m));
        if self.nodes == 0 {
            return invalid("distributed.nodes must be at least 1".into());
        }
        if self.node_rank >= self.nodes {
            return invalid(format!(
                "distributed.node_rank {} is not below distributed.nodes {}: ranks are 0..{}",
                self.node_rank,
                self.nodes,
                self.nodes - 1
            ));
        }
        if self.nodes > 1 && !self.orchestrator.contains(':') {
            return invalid(format!(
                "distributed.orchestrator `{}` needs a port: HOST:PORT",
                self.orchestrator
            ));
        }
        if self.timeout_seconds == 0 {
            return invalid("distributed.timeout_seconds must be at least 1".into());
        }
        Ok(())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }

    fn address(&self) -> Result<SocketAddr, String> {
        self.orchestrator
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{}`: {e}", self.orchestrator))?
            .next()
            .ok_or_else(|| format!("`{}` resolves to no address", self.orchestrator))
    }
}

/// A failure of the job: another rank stopped, hung or disagreed.
fn job_error(message: String) -> TrainError {
    TrainError::Distributed(message)
}

const MAGIC: &[u8; 4] = b"AEDP";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Hello = 1,
    Welcome = 2,
    Refuse = 3,
    Gradient = 4,
    Mean = 5,
    Abort = 6,
    Checksum = 7,
    Done = 8,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Hello,
            2 => Self::Welcome,
            3 => Self::Refuse,
            4 => Self::Gradient,
            5 => Self::Mean,
            6 => Self::Abort,
            7 => Self::Checksum,
            8 => Self::Done,
            _ => return None,
        })
    }
}

/// The largest message accepted (a gradient of 1 G parameters).
const MAX_MESSAGE: u64 = 4 << 30;

fn write_frame(stream: &mut TcpStream, kind: Kind, payload: &[u8]) -> io::Result<()> {
    let mut header = [0u8; 13];
    header[..4].copy_from_slice(MAGIC);
    header[4] = kind as u8;
    header[5..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    stream.write_all(&header)?;
    stream.write_all(payload)?;
    stream.flush()
}

/// Reads a message into `payload`.
fn read_frame(stream: &mut TcpStream, payload: &mut Vec<u8>) -> io::Result<Kind> {
    let (kind, len) = read_header(stream)?;
    payload.resize(len, 0);
    stream.read_exact(payload)?;
    Ok(kind)
}

/// Reads a message whose payload is `values.len()` f32 straight into `values`; a message of
/// another kind or size goes to `other` (an abort's reason, say) and is returned as `Err`.
fn read_values(
    stream: &mut TcpStream,
    expected: Kind,
    values: &mut [f32],
    other: &mut Vec<u8>,
) -> io::Result<Result<(), Kind>> {
    let (kind, len) = read_header(stream)?;
    if kind == expected && len == values.len() * 4 {
        stream.read_exact(bytemuck::cast_slice_mut(values))?;
        from_wire(values);
        return Ok(Ok(()));
    }
    // Anything else is a short message (an abort's reason); a long one is not read, so a
    // confused peer cannot make this rank allocate its size.
    other.clear();
    if len <= SHORT_MESSAGE {
        other.resize(len, 0);
        stream.read_exact(other)?;
    }
    Ok(Err(kind))
}

/// The longest message read when another was due (abort reasons and the like).
const SHORT_MESSAGE: usize = 1 << 16;

/// f32 travel little-endian: nothing to do on the usual machines.
fn from_wire(values: &mut [f32]) {
    if cfg!(target_endian = "big") {
        for v in values {
            *v = f32::from_bits(u32::from_le(v.to_bits()));
        }
    }
}

/// Sends `values` as a message of `kind`, little-endian.
fn write_values(stream: &mut TcpStream, kind: Kind, values: &mut [f32]) -> io::Result<()> {
    if cfg!(target_endian = "big") {
        for v in values.iter_mut() {
            *v = f32::from_bits(v.to_bits().to_le());
        }
        let sent = write_frame(stream, kind, bytemuck::cast_slice(values));
        from_wire(values);
        return sent;
    }
    write_frame(stream, kind, bytemuck::cast_slice(values))
}

fn read_header(stream: &mut TcpStream) -> io::Result<(Kind, usize)> {
    let mut header = [0u8; 13];
    stream.read_exact(&mut header)?;
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    if &header[..4] != MAGIC {
        return Err(bad("it does not speak this protocol".into()));
    }
    let kind = Kind::from_byte(header[4])
        .ok_or_else(|| bad(format!("unknown message kind {}", header[4])))?;
    let mut len = [0u8; 8];
    len.copy_from_slice(&header[5..]);
    let len = u64::from_le_bytes(len);
    if len > MAX_MESSAGE {
        return Err(bad(format!("a message of {len} bytes is too large")));
    }
    Ok((kind, len as usize))
}

/// What went wrong talking to `rank`, in words.
fn describe(rank: usize, timeout: Duration, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "rank {rank} sent nothing for {} s (it hangs or its machine is unreachable; \
             distributed.timeout_seconds sets the wait)",
            timeout.as_secs()
        ),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            format!("rank {rank} closed its connection: its process stopped or died")
        }
        _ => format!("rank {rank}: {e}"),
    }
}

/// A file of rank 0's run folder sent to the other ranks to resume from (path relative to
/// the run folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    /// Path inside the run folder.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

fn encode_files(files: &[SharedFile]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for f in files {
        out.extend_from_slice(&(f.name.len() as u32).to_le_bytes());
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(&(f.bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&f.bytes);
    }
    out
}

fn decode_files(mut bytes: &[u8]) -> Option<Vec<SharedFile>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Some(head)
    }
    let count = u32::from_le_bytes(take(&mut bytes, 4)?.try_into().ok()?) as usize;
    let mut files = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let n = u32::from_le_bytes(take(&mut bytes, 4)?.try_into().ok()?) as usize;
        let name = String::from_utf8(take(&mut bytes, n)?.to_vec()).ok()?;
        let n = u64::from_le_bytes(take(&mut bytes, 8)?.try_into().ok()?) as usize;
        let data = take(&mut bytes, n)?.to_vec();
        files.push(SharedFile { name, bytes: data });
    }
    bytes.is_empty().then_some(files)
}

/// A 64-bit FNV-1a hash (config fingerprints, weight checksums).
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The fingerprint of what every rank must share: the experiment config without its
/// `[distributed]` table (the rank, the address rank 0 binds, such as `0.0.0.0:PORT`, and the
/// timeout may differ between ranks; the number of nodes is checked on its own).
pub fn fingerprint(config: &ExperimentConfig) -> Result<u64, TrainError> {
    let mut shared = config.clone();
    shared.distributed = None;
    Ok(fnv1a(FNV_START, shared.to_toml()?.as_bytes()))
}

struct Peer {
    rank: usize,
    stream: TcpStream,
}

/// The connections of one rank to the job: rank 0 holds one per other rank, the others one to
/// rank 0.
pub struct Group {
    rank: usize,
    nodes: usize,
    timeout: Duration,
    peers: Vec<Peer>,
    failed: Option<String>,
    buffer: Vec<u8>,
    received: Vec<f32>,
    /// The flattened gradient and its presence flags, kept between steps.
    gathered: (Vec<f32>, Vec<f32>),
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("rank", &self.rank)
            .field("nodes", &self.nodes)
            .field("failed", &self.failed)
            .finish()
    }
}

fn configure(stream: &TcpStream, timeout: Duration) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))
}

impl Group {
    /// Rank 0: listens at `settings.orchestrator` until every other rank has joined with the
    /// same config `fingerprint`, then sends each of them `files` (what they need to resume).
    pub fn host(
        settings: &DistributedConfig,
        fingerprint: u64,
        files: &[SharedFile],
    ) -> Result<Self, TrainError> {
        Self::accept(Self::listen(settings)?, settings, fingerprint, files)
    }

    /// Rank 0's listener at `settings.orchestrator`, bound before the data is read: the other
    /// ranks' connections wait in its queue, and if rank 0 fails before [`Group::accept`],
    /// dropping the listener resets them, so they stop at once instead of at their timeout.
    pub fn listen(settings: &DistributedConfig) -> Result<TcpListener, TrainError> {
        let address = settings.address().map_err(job_error)?;
        TcpListener::bind(address).map_err(|e| {
            job_error(format!(
                "rank 0 cannot listen at {} ({e}): the orchestrator address must be one of \
                 rank 0's own, with a free port",
                settings.orchestrator
            ))
        })
    }

    /// Rank 0 on a listener already bound (tests bind port 0 and pass the port on).
    pub fn accept(
        listener: TcpListener,
        settings: &DistributedConfig,
        fingerprint: u64,
        files: &[SharedFile],
    ) -> Result<Self, TrainError> {
        let timeout = settings.timeout();
        let nodes = settings.nodes;
        listener
            .set_nonblocking(true)
            .map_err(|e| job_error(format!("rank 0 cannot poll its listener: {e}")))?;
        let deadline = Instant::now() + timeout;
        let mut peers: Vec<Peer> = Vec::new();
        let mut payload = Vec::new();
        while peers.len() + 1 < nodes {
            let (mut stream, from) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        let mut missing: Vec<String> = (1..nodes)
                            .filter(|r| peers.iter().all(|p| p.rank != *r))
                            .map(|r| r.to_string())
                            .collect();
                        missing.truncate(8);
                        return Err(job_error(format!(
                            "rank(s) {} did not join rank 0 at {} within {} s",
                            missing.join(", "),
                            settings.orchestrator,
                            timeout.as_secs()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => return Err(job_error(format!("rank 0 cannot accept a rank: {e}"))),
            };
            // Something that is not a rank (a port scan, a health check) is dropped, and rank 0
            // goes on waiting for the ranks; it gets a few seconds to introduce itself.
            let introduced = configure(&stream, timeout.min(Duration::from_secs(10)))
                .and_then(|()| read_header(&mut stream))
                .and_then(|(kind, len)| {
                    if kind != Kind::Hello || len != 20 {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a rank"));
                    }
                    payload.resize(len, 0);
                    stream.read_exact(&mut payload)?;
                    configure(&stream, timeout)
                });
            if introduced.is_err() {
                continue;
            }
            let word =
                |i: usize| u32::from_le_bytes(payload[i..i + 4].try_into().unwrap_or([0; 4]));
            let (version, rank, their_nodes) = (word(0), word(4) as usize, word(8) as usize);
            let their_print = u64::from_le_bytes(payload[12..20].try_into().unwrap_or([0; 8]));
            let refusal = if version != VERSION {
                Some(format!(
                    "rank {rank} speaks protocol version {version}, rank 0 version {VERSION}: \
                     run the same ae on every machine"
                ))
            } else if their_nodes != nodes {
                Some(format!(
                    "rank {rank} was started with {their_nodes} nodes, rank 0 with {nodes}"
                ))
            } else if rank == 0 || rank >= nodes || peers.iter().any(|p| p.rank == rank) {
                Some(format!(
                    "a second process joined as rank {rank} (from {from}): every rank 1..{} \
                     must be started once",
                    nodes - 1
                ))
            } else if their_print != fingerprint {
                Some(format!(
                    "rank {rank}'s experiment config differs from rank 0's: every rank must run \
                     the same config (only its [distributed] table may differ)"
                ))
            } else {
                None
            };
            if let Some(message) = refusal {
                let _ = write_frame(&mut stream, Kind::Refuse, message.as_bytes());
                let mut group = Self::new(0, nodes, timeout, peers);
                group.abort(&message);
                return Err(job_error(message));
            }
            peers.push(Peer { rank, stream });
        }
        peers.sort_by_key(|p| p.rank);
        let welcome = encode_files(files);
        let mut group = Self::new(0, nodes, timeout, peers);
        for i in 0..group.peers.len() {
            let peer = &mut group.peers[i];
            if let Err(e) = write_frame(&mut peer.stream, Kind::Welcome, &welcome) {
                let message = describe(peer.rank, timeout, &e);
                group.abort(&message);
                return Err(job_error(message));
            }
        }
        Ok(group)
    }

    /// Any rank but 0: connects to rank 0 (retrying until `timeout_seconds`, since rank 0 may
    /// start later), introduces itself with the config `fingerprint` and returns the files rank
    /// 0 sent (empty for a fresh run).
    pub fn join(
        settings: &DistributedConfig,
        fingerprint: u64,
    ) -> Result<(Self, Vec<SharedFile>), TrainError> {
        let timeout = settings.timeout();
        let rank = settings.node_rank;
        let deadline = Instant::now() + timeout;
        let mut stream = loop {
            let attempt = settings.address().and_then(|a| {
                TcpStream::connect_timeout(&a, Duration::from_secs(2)).map_err(|e| e.to_string())
            });
            match attempt {
                Ok(stream) => break stream,
                Err(e) if Instant::now() >= deadline => {
                    return Err(job_error(format!(
                        "rank {rank} could not reach rank 0 at {} within {} s: {e}",
                        settings.orchestrator,
                        timeout.as_secs()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let lost = |e: io::Error| {
            job_error(format!(
                "{} (rank 0's own output says why)",
                describe(0, timeout, &e)
            ))
        };
        configure(&stream, timeout).map_err(lost)?;
        let mut hello = Vec::with_capacity(20);
        hello.extend_from_slice(&VERSION.to_le_bytes());
        hello.extend_from_slice(&(rank as u32).to_le_bytes());
        hello.extend_from_slice(&(settings.nodes as u32).to_le_bytes());
        hello.extend_from_slice(&fingerprint.to_le_bytes());
        write_frame(&mut stream, Kind::Hello, &hello).map_err(lost)?;
        let mut payload = Vec::new();
        match read_frame(&mut stream, &mut payload).map_err(lost)? {
            Kind::Welcome => {
                let files = decode_files(&payload)
                    .ok_or_else(|| job_error("rank 0 sent a malformed list of run files".into()))?;
                let peers = vec![Peer { rank: 0, stream }];
                Ok((Self::new(rank, settings.nodes, timeout, peers), files))
            }
            Kind::Refuse | Kind::Abort => Err(job_error(format!(
                "rank 0 refused rank {rank}: {}",
                String::from_utf8_lossy(&payload)
            ))),
            other => Err(job_error(format!(
                "rank 0 answered rank {rank}'s introduction with {other:?}"
            ))),
        }
    }

    fn new(rank: usize, nodes: usize, timeout: Duration, peers: Vec<Peer>) -> Self {
        Self {
            rank,
            nodes,
            timeout,
            peers,
            failed: None,
            buffer: Vec::new(),
            received: Vec::new(),
            gathered: (Vec::new(), Vec::new()),
        }
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Processes in the job.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The first failure of the job, once there is one.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Rank 0 tells every other rank why the job stops (best effort), and remembers it.
    fn abort(&mut self, message: &str) {
        if self.rank == 0 {
            for peer in &mut self.peers {
                let _ = write_frame(&mut peer.stream, Kind::Abort, message.as_bytes());
            }
        }
        if self.failed.is_none() {
            self.failed = Some(message.to_string());
        }
    }

    fn fail(&mut self, message: String) -> TrainError {
        self.abort(&message);
        job_error(message)
    }

    /// Whether there is anyone to talk to: an error once the job has failed, `false` for a job
    /// of one.
    fn others(&self) -> Result<bool, TrainError> {
        match &self.failed {
            Some(failed) => Err(job_error(failed.clone())),
            None => Ok(self.nodes > 1),
        }
    }

    /// Replaces `values` by their mean over all ranks (every rank gets the same bytes).
    pub fn all_reduce_mean(&mut self, values: &mut [f32]) -> Result<(), TrainError> {
        if !self.others()? {
            return Ok(());
        }
        let timeout = self.timeout;
        if self.rank != 0 {
            let stream = &mut self.peers[0].stream;
            if let Err(e) = write_values(stream, Kind::Gradient, values) {
                return Err(self.fail(describe(0, timeout, &e)));
            }
            return match read_values(stream, Kind::Mean, values, &mut self.buffer) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(Kind::Abort)) => {
                    let message = String::from_utf8_lossy(&self.buffer).into_owned();
                    Err(self.fail(format!("rank 0 stopped the job: {message}")))
                }
                Ok(Err(other)) => Err(self.fail(format!(
                    "rank 0 answered a gradient with {other:?} of {} bytes",
                    self.buffer.len()
                ))),
                Err(e) => Err(self.fail(describe(0, timeout, &e))),
            };
        }
        // Rank 0: the sum in rank order (its own values first), then the mean to everyone.
        let mut received = std::mem::take(&mut self.received);
        received.resize(values.len(), 0.0);
        for i in 0..self.peers.len() {
            let peer = &mut self.peers[i];
            let rank = peer.rank;
            let message = match read_values(
                &mut peer.stream,
                Kind::Gradient,
                &mut received,
                &mut self.buffer,
            ) {
                Ok(Ok(())) => None,
                Ok(Err(Kind::Abort)) => Some(format!(
                    "rank {rank} stopped: {}",
                    String::from_utf8_lossy(&self.buffer)
                )),
                Ok(Err(kind)) => Some(format!(
                    "rank {rank} sent {kind:?} of {} bytes where its gradient of {} values was \
                     due: do all ranks train the same model?",
                    self.buffer.len(),
                    values.len()
                )),
                Err(e) => Some(describe(rank, timeout, &e)),
            };
            if let Some(message) = message {
                self.received = received;
                return Err(self.fail(message));
            }
            for (v, r) in values.iter_mut().zip(&received) {
                *v += *r;
            }
        }
        self.received = received;
        let scale = 1.0 / self.nodes as f32;
        for v in values.iter_mut() {
            *v *= scale;
        }
        for i in 0..self.peers.len() {
            let peer = &mut self.peers[i];
            if let Err(e) = write_values(&mut peer.stream, Kind::Mean, values) {
                let message = describe(peer.rank, timeout, &e);
                return Err(self.fail(message));
            }
        }
        Ok(())
    }

    /// The end of the job: every rank reports the checksum of its final weights and rank 0
    /// checks they agree (replicas that drifted apart would be a bug, not a result).
    pub fn finish(&mut self, checksum: u64) -> Result<(), TrainError> {
        if !self.others()? {
            return Ok(());
        }
        let timeout = self.timeout;
        if self.rank != 0 {
            let stream = &mut self.peers[0].stream;
            if let Err(e) = write_frame(stream, Kind::Checksum, &checksum.to_le_bytes()) {
                return Err(self.fail(describe(0, timeout, &e)));
            }
            return match read_frame(stream, &mut self.buffer) {
                Ok(Kind::Done) => Ok(()),
                Ok(_) => {
                    let message = String::from_utf8_lossy(&self.buffer).into_owned();
                    Err(self.fail(format!("rank 0 stopped the job: {message}")))
                }
                Err(e) => Err(self.fail(describe(0, timeout, &e))),
            };
        }
        for i in 0..self.peers.len() {
            let peer = &mut self.peers[i];
            let rank = peer.rank;
            let theirs = match read_frame(&mut peer.stream, &mut self.buffer) {
                Ok(Kind::Checksum) if self.buffer.len() == 8 => {
                    u64::from_le_bytes(self.buffer[..8].try_into().unwrap_or([0; 8]))
                }
                Ok(Kind::Abort) => {
                    let message = String::from_utf8_lossy(&self.buffer).into_owned();
                    return Err(self.fail(format!("rank {rank} stopped: {message}")));
                }
                Ok(kind) => {
                    return Err(self.fail(format!(
                        "rank {rank} sent {kind:?} where its final checksum was due"
                    )));
                }
                Err(e) => return Err(self.fail(describe(rank, timeout, &e))),
            };
            if theirs != checksum {
                return Err(self.fail(format!(
                    "rank {rank}'s final weights differ from rank 0's (checksum {theirs:016x} \
                     vs {checksum:016x}): the ranks did not train the same model"
                )));
            }
        }
        for peer in &mut self.peers {
            let _ = write_frame(&mut peer.stream, Kind::Done, &[]);
        }
        Ok(())
    }

    /// Stops the job from this rank, telling the others why (rank 0 tells every rank; another
    /// rank tells rank 0, which tells the rest on its next read).
    pub fn stop(&mut self, message: &str) {
        if self.rank != 0
            && self.failed.is_none()
            && let Some(peer) = self.peers.first_mut()
        {
            let _ = write_frame(&mut peer.stream, Kind::Abort, message.as_bytes());
        }
        self.abort(message);
    }
}

/// Collects a module's gradients in its visiting order into one vector (zeros where a
/// parameter has none), with one presence flag per parameter.
struct Gather<'a> {
    grads: &'a mut GradientsParams,
    values: Vec<f32>,
    present: Vec<f32>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Gather<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let numel = param.shape().num_elements();
        match self.grads.remove::<B::InnerBackend, D>(param.id) {
            Some(grad) => {
                push_values(&mut self.values, grad.into_data(), numel);
                self.present.push(1.0);
            }
            None => {
                self.values.resize(self.values.len() + numel, 0.0);
                self.present.push(0.0);
            }
        }
    }
}

fn push_values(out: &mut Vec<f32>, data: TensorData, numel: usize) {
    let start = out.len();
    match data.as_slice::<f32>() {
        Ok(slice) if data.dtype == DType::F32 => out.extend_from_slice(slice),
        _ => out.extend(data.iter::<f32>()),
    }
    // A shape that disagrees with the parameter's would shift every later one.
    out.resize(start + numel, 0.0);
}

/// Puts the averaged gradients back, for the parameters that had one on some rank.
struct Scatter<'a> {
    grads: &'a mut GradientsParams,
    values: &'a [f32],
    present: &'a [f32],
    offset: usize,
    index: usize,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scatter<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.shape();
        let numel = shape.num_elements();
        let end = (self.offset + numel).min(self.values.len());
        let slice = &self.values[self.offset..end];
        if self.present.get(self.index).is_some_and(|&p| p > 0.0) {
            let device = param.val().device();
            let grad = Tensor::<B::InnerBackend, D>::from_data(
                TensorData::new(slice.to_vec(), shape),
                &device,
            );
            self.grads.register(param.id, grad);
        }
        self.offset = end;
        self.index += 1;
    }
}

/// A checksum of a module's parameter values (bit patterns, visiting order).
struct Checksum {
    hash: u64,
}

impl<B: Backend> ModuleVisitor<B> for Checksum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let data = param.val().into_data();
        let mut values = Vec::new();
        push_values(&mut values, data, param.shape().num_elements());
        for v in values {
            self.hash = fnv1a(self.hash, &v.to_bits().to_le_bytes());
        }
    }
}

/// The checksum of `module`'s weights that [`Group::finish`] compares across ranks.
pub fn weights_checksum<B: Backend, M: Module<B>>(module: &M) -> u64 {
    let mut visitor = Checksum { hash: FNV_START };
    module.visit(&mut visitor);
    visitor.hash
}

/// Averages `grads` over the ranks of `group`, in place.
pub fn average_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    group: &mut Group,
    module: &M,
    grads: &mut GradientsParams,
) -> Result<(), TrainError> {
    // The step's buffers are the group's, reused from step to step (no fresh allocation of
    // the whole gradient in the training step).
    let (mut values, mut present) = std::mem::take(&mut group.gathered);
    values.clear();
    present.clear();
    let mut gather = Gather {
        grads,
        values,
        present,
    };
    module.visit(&mut gather);
    let Gather {
        mut values,
        present,
        ..
    } = gather;
    let count = values.len();
    values.extend_from_slice(&present);
    let reduced = group.all_reduce_mean(&mut values);
    if reduced.is_ok() {
        let (values, present) = values.split_at(count);
        let mut scatter = Scatter {
            grads,
            values,
            present,
            offset: 0,
            index: 0,
        };
        module.visit(&mut scatter);
    }
    group.gathered = (values, present);
    reduced
}

/// An optimizer whose step first averages the gradients over the job's ranks; without a
/// group it is the inner optimizer. Its record is the inner optimizer's, so checkpoints are the
/// same with and without it.
#[derive(Clone)]
pub struct Synced<O> {
    inner: O,
    group: Option<(Arc<Mutex<Group>>, Interrupter)>,
}

impl<O> Synced<O> {
    /// `inner` alone.
    pub fn local(inner: O) -> Self {
        Self { inner, group: None }
    }

    /// `inner` after an all-reduce over `group`; a failure stops training through
    /// `interrupter` (the step then leaves the model as it was) and stays in the group.
    pub fn over(inner: O, group: Arc<Mutex<Group>>, interrupter: Interrupter) -> Self {
        Self {
            inner,
            group: Some((group, interrupter)),
        }
    }
}

impl<M, B, O> Optimizer<M, B> for Synced<O>
where
    M: AutodiffModule<B>,
    B: AutodiffBackend,
    O: Optimizer<M, B>,
{
    type Record = O::Record;

    fn step(&mut self, lr: LearningRate, module: M, mut grads: GradientsParams) -> M {
        if let Some((group, interrupter)) = &self.group {
            let mut group = group.lock().unwrap_or_else(|e| e.into_inner());
            if group.failure().is_some() {
                return module;
            }
            if let Err(e) = average_gradients::<B, M>(&mut group, &module, &mut grads) {
                interrupter.stop(Some(&e.to_string()));
                return module;
            }
        }
        let inner = &mut self.inner;
        ae_kernels::on_cpu_pool::<B, _>(move || inner.step(lr, module, grads))
    }

    fn step_multi(&mut self, lr: LearningRate, module: M, grads: MultiGradientsParams) -> M {
        // Several devices in one process and several processes are not combined (the config
        // refuses it), so this is the one-process multi-device step.
        self.inner.step_multi(lr, module, grads)
    }

    fn to_record(&self) -> Self::Record {
        self.inner.to_record()
    }

    fn load_record(self, record: Self::Record) -> Self {
        Self {
            inner: self.inner.load_record(record),
            group: self.group,
        }
    }
}

/// The files of rank 0's run folder that another rank needs to resume from `epoch`: the
/// configs, the column statistics and metrics, and that epoch's checkpoint.
pub fn resume_files(run: &Path, epoch: usize) -> Result<Vec<SharedFile>, TrainError> {
    let mut names: Vec<String> = ["config.toml", "standardization.json", "metrics.csv"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    names.push("checkpoint/config.toml".into());
    for part in ["model", "optim", "scheduler"] {
        names.push(format!("checkpoint/{part}-{epoch}.mpk"));
    }
    let mut files = Vec::new();
    for name in names {
        let path = run.join(&name);
        match std::fs::read(&path) {
            Ok(bytes) => files.push(SharedFile { name, bytes }),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !name.ends_with(".mpk") => {}
            Err(e) => return Err(TrainError::io(path, e)),
        }
    }
    Ok(files)
}

/// Writes files received from rank 0 into `run` (names are checked to stay inside it).
pub fn write_shared_files(run: &Path, files: &[SharedFile]) -> Result<(), TrainError> {
    for f in files {
        let relative = PathBuf::from(&f.name);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(job_error(format!(
                "rank 0 sent a file named `{}`, outside the run folder",
                f.name
            )));
        }
        let path = run.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
        }
        crate::run_dir::write_atomic(&path, &f.bytes)?;
    }
    Ok(())
}

/// A scratch run folder for a rank other than 0 (its checkpoints are never read by anyone
/// but itself), removed when dropped.
pub struct ScratchRun {
    path: PathBuf,
}

impl ScratchRun {
    /// A new empty folder under the system's temporary folder.
    pub fn create(rank: usize) -> Result<Self, TrainError> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let path = base.join(format!("ae-rank{rank}-{}-{attempt}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(TrainError::io(path, e)),
            }
        }
        Err(TrainError::Invalid(format!(
            "cannot make a scratch folder for rank {rank} under {}",
            base.display()
        )))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(nodes: usize) -> (TcpListener, DistributedConfig) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut settings = DistributedConfig::new(nodes, 0, format!("127.0.0.1:{port}"));
        settings.timeout_seconds = 5;
        (listener, settings)
    }

    fn rank(settings: &DistributedConfig, r: usize) -> DistributedConfig {
        DistributedConfig {
            node_rank: r,
            ..settings.clone()
        }
    }

    #[test]
    fn three_ranks_average_to_identical_bytes_and_receive_files() {
        let (listener, settings) = pair(3);
        let files = vec![SharedFile {
            name: "checkpoint/model-2.mpk".into(),
            bytes: vec![1, 2, 3],
        }];
        let handles: Vec<_> = (1..3)
            .map(|r| {
                let s = rank(&settings, r);
                std::thread::spawn(move || {
                    let (mut group, files) = Group::join(&s, 7).unwrap();
                    let mut values = vec![r as f32, 10.0 * r as f32, 0.1];
                    group.all_reduce_mean(&mut values).unwrap();
                    group.finish(99).unwrap();
                    (values, files)
                })
            })
            .collect();
        let mut group = Group::accept(listener, &settings, 7, &files).unwrap();
        let mut values = vec![0.0, 0.0, 0.1];
        group.all_reduce_mean(&mut values).unwrap();
        group.finish(99).unwrap();
        // The sum in rank order, times 1/nodes.
        assert_eq!(
            values,
            vec![1.0, 10.0, (0.1f32 + 0.1 + 0.1) * (1.0f32 / 3.0)]
        );
        for h in handles {
            let (theirs, received) = h.join().unwrap();
            assert_eq!(
                theirs.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(received, files);
        }
    }

    #[test]
    fn a_stranger_on_the_port_is_dropped_and_the_ranks_still_join() {
        let (listener, settings) = pair(2);
        let address = settings.orchestrator.clone();
        let s = rank(&settings, 1);
        let joiner = std::thread::spawn(move || {
            // A connection that sends an HTTP request, then the real rank.
            let mut stranger = TcpStream::connect(&address).unwrap();
            stranger.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let (mut group, _) = Group::join(&s, 7).unwrap();
            let mut values = vec![4.0];
            group.all_reduce_mean(&mut values).unwrap();
            values
        });
        let mut group = Group::accept(listener, &settings, 7, &[]).unwrap();
        let mut values = vec![2.0];
        group.all_reduce_mean(&mut values).unwrap();
        assert_eq!(values, vec![3.0]);
        assert_eq!(joiner.join().unwrap(), vec![3.0]);
    }

    #[test]
    fn a_different_config_is_refused_on_both_sides() {
        let (listener, settings) = pair(2);
        let s = rank(&settings, 1);
        let joiner = std::thread::spawn(move || Group::join(&s, 8).unwrap_err().to_string());
        let host = Group::accept(listener, &settings, 7, &[])
            .unwrap_err()
            .to_string();
        let joined = joiner.join().unwrap();
        assert!(
            host.contains("rank 1's experiment config differs"),
            "{host}"
        );
        assert!(joined.contains("refused rank 1"), "{joined}");
    }

    #[test]
    fn a_rank_that_dies_is_named_at_once() {
        let (listener, settings) = pair(2);
        let s = rank(&settings, 1);
        let joiner = std::thread::spawn(move || {
            let (group, _) = Group::join(&s, 7).unwrap();
            drop(group); // the process dies: its socket closes
        });
        let mut group = Group::accept(listener, &settings, 7, &[]).unwrap();
        joiner.join().unwrap();
        let started = Instant::now();
        let err = group.all_reduce_mean(&mut [1.0]).unwrap_err().to_string();
        assert!(err.contains("rank 1 closed its connection"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // The failure stays: the next step does not talk to anyone.
        assert!(group.all_reduce_mean(&mut [1.0]).is_err());
    }

    #[test]
    fn a_rank_that_hangs_is_named_after_the_timeout() {
        let (listener, mut settings) = pair(2);
        settings.timeout_seconds = 1;
        let s = rank(&settings, 1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let joiner = std::thread::spawn(move || {
            let (_group, _) = Group::join(&s, 7).unwrap();
            let _ = rx.recv(); // alive but silent
        });
        let mut group = Group::accept(listener, &settings, 7, &[]).unwrap();
        let err = group.all_reduce_mean(&mut [1.0]).unwrap_err().to_string();
        assert!(err.contains("rank 1 sent nothing for 1 s"), "{err}");
        tx.send(()).unwrap();
        joiner.join().unwrap();
    }

    #[test]
    fn rank_zero_times_out_on_a_rank_that_never_comes() {
        let (listener, mut settings) = pair(3);
        settings.timeout_seconds = 1;
        let s = rank(&settings, 2);
        let joiner = std::thread::spawn(move || Group::join(&s, 7).map(|_| ()));
        let err = Group::accept(listener, &settings, 7, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rank(s) 1 did not join"), "{err}");
        let joined = joiner.join().unwrap().unwrap_err().to_string();
        assert!(joined.contains("rank 0"), "{joined}");
    }

    #[test]
    fn checksums_that_differ_stop_the_job() {
        let (listener, settings) = pair(2);
        let s = rank(&settings, 1);
        let joiner = std::thread::spawn(move || {
            let (mut group, _) = Group::join(&s, 7).unwrap();
            group.finish(2).unwrap_err().to_string()
        });
        let mut group = Group::accept(listener, &settings, 7, &[]).unwrap();
        let err = group.finish(1).unwrap_err().to_string();
        assert!(err.contains("rank 1's final weights differ"), "{err}");
        assert!(joiner.join().unwrap().contains("rank 0 stopped the job"));
    }

    #[test]
    fn file_lists_round_trip_and_truncations_are_rejected() {
        let files = vec![
            SharedFile {
                name: "a".into(),
                bytes: vec![],
            },
            SharedFile {
                name: "checkpoint/b".into(),
                bytes: vec![9; 300],
            },
        ];
        let bytes = encode_files(&files);
        assert_eq!(decode_files(&bytes).unwrap(), files);
        for cut in [0, 3, 10, bytes.len() - 1] {
            assert!(decode_files(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let dir = tempfile::tempdir().unwrap();
        let escape = vec![SharedFile {
            name: "../x".into(),
            bytes: vec![],
        }];
        assert!(write_shared_files(dir.path(), &escape).is_err());
        write_shared_files(dir.path(), &files).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("checkpoint/b"))
                .unwrap()
                .len(),
            300
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(DistributedConfig::new(2, 2, "h:1").validate().is_err());
        assert!(DistributedConfig::new(0, 0, "h:1").validate().is_err());
        assert!(DistributedConfig::new(2, 1, "host").validate().is_err());
        assert!(
            DistributedConfig::new(2, 1, "host:29500")
                .validate()
                .is_ok()
        );
        let text = |rank: usize, address: &str, lr: f64| {
            format!(
                "[data]\nsource = \"mnist\"\n[model]\nmodel = \"autoencoder\"\nlatent = 4\n\
                 architecture = {{ kind = \"mlp\", hidden = [8], activation = \"relu\" }}\n\
                 [training]\nlearning_rate = {lr}\n\
                 [distributed]\nnodes = 2\nnode_rank = {rank}\norchestrator = \"{address}\"\n"
            )
        };
        let print = |t: String| {
            let config = ExperimentConfig::from_toml(&t, Path::new("t.toml")).unwrap();
            fingerprint(&config).unwrap()
        };
        assert_eq!(
            print(text(0, "0.0.0.0:29500", 1e-3)),
            print(text(1, "host-a:29500", 1e-3))
        );
        assert_ne!(print(text(0, "h:1", 1e-3)), print(text(1, "h:1", 2e-3)));
    }
}
