//! UDP and TCP sockets. Each socket or connection is a task that turns bytes into
//! [`Input`]s for the driver; the driver sends through [`Transports`].
//!
//! TCP follows RFC 3261 §18 and RFC 5626 §4.4.1: Content-Length framing, responses on the
//! connection the request came on, CRLFCRLF keep-alives answered with CRLF, idle connections
//! closed, outbound connections opened on demand and reused by remote address.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::core::flow::{Flow, Transport};
use crate::core::msg::{Framed, MAX_MESSAGE_SIZE, StreamFramer};

/// A TCP connection with no traffic for this long is closed (phones with TCP bindings send
/// keep-alives or re-register well within it).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Queued outbound messages per connection before we give up on a stuck peer.
const TCP_QUEUE: usize = 256;

/// What the sockets hand the driver.
#[derive(Debug)]
pub enum Input {
    /// A UDP datagram, or one message framed out of a TCP stream.
    Packet { flow: Flow, bytes: Vec<u8> },
    /// A TCP connection is up (accepted or connected): its writer.
    Connected {
        flow: Flow,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// A TCP connection closed or could not be opened.
    Closed { flow: Flow },
    /// A lookup the proxy asked for (RFC 3263) finished.
    Located {
        id: crate::core::proxy::LookupId,
        result: Result<Vec<crate::core::locate::Target>, crate::core::locate::LocateError>,
    },
}

/// The sockets the driver sends through.
#[derive(Debug, Default)]
pub struct Transports {
    udp: HashMap<SocketAddr, Arc<UdpSocket>>,
    tcp: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// Messages for TCP connections being opened, in order.
    connecting: HashMap<SocketAddr, Vec<Vec<u8>>>,
}

/// A bound socket, before its task runs.
#[derive(Debug)]
pub enum Bound {
    Udp(Arc<UdpSocket>),
    Tcp(TcpListener),
}

impl Bound {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Bound::Udp(s) => s.local_addr(),
            Bound::Tcp(l) => l.local_addr(),
        }
    }
}

/// The address this machine uses towards the outside for the given family, if it has one. A
/// UDP `connect` only chooses a route; nothing is sent.
pub fn outward_address(v4: bool) -> Option<std::net::IpAddr> {
    let (bind, probe) = if v4 {
        ("0.0.0.0:0", "192.0.2.1:9")
    } else {
        ("[::]:0", "[2001:db8::1]:9")
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(probe).ok()?;
    Some(s.local_addr().ok()?.ip())
}

/// Binds a listening socket. IPv6 sockets are IPv6-only, so that the default `[::]:5060` and
/// `0.0.0.0:5060` can both be bound (Linux makes `[::]` dual-stack otherwise, and the second
/// bind fails with "address in use").
pub async fn bind(transport: Transport, addr: SocketAddr) -> io::Result<Bound> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let (ty, proto) = match transport {
        Transport::Udp => (Type::DGRAM, Protocol::UDP),
        Transport::Tcp => (Type::STREAM, Protocol::TCP),
    };
    let socket = Socket::new(domain, ty, Some(proto))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if transport == Transport::Tcp {
        // A restarted daemon must not wait for the old connections' TIME_WAIT to end.
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(match transport {
        Transport::Udp => Bound::Udp(Arc::new(UdpSocket::from_std(socket.into())?)),
        Transport::Tcp => {
            socket.listen(1024)?;
            Bound::Tcp(TcpListener::from_std(socket.into())?)
        }
    })
}

impl Transports {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the task of a bound socket. `local` is the address the core knows it by.
    pub fn start(&mut self, bound: Bound, local: SocketAddr, inputs: mpsc::Sender<Input>) {
        match bound {
            Bound::Udp(socket) => {
                self.udp.insert(local, socket.clone());
                tokio::spawn(udp_reader(socket, local, inputs));
            }
            Bound::Tcp(listener) => {
                tokio::spawn(tcp_acceptor(listener, local, inputs));
            }
        }
    }

    pub fn connected(&mut self, flow: Flow, writer: mpsc::Sender<Vec<u8>>) {
        if let Some(queued) = self.connecting.remove(&flow.remote) {
            for bytes in queued {
                if writer.try_send(bytes).is_err() {
                    warn!(remote = %flow.remote, "TCP queue full; message dropped");
                }
            }
        }
        self.tcp.insert(flow.remote, writer);
    }

    pub fn closed(&mut self, flow: Flow) {
        self.tcp.remove(&flow.remote);
        self.connecting.remove(&flow.remote);
    }

    /// Sends bytes on a flow. UDP errors are logged (ICMP errors surface on later reads);
    /// TCP opens a connection if none exists.
    pub async fn send(&mut self, flow: Flow, bytes: Vec<u8>, inputs: &mpsc::Sender<Input>) {
        match flow.transport {
            Transport::Udp => {
                let Some(socket) = self.udp.get(&flow.local) else {
                    warn!(local = %flow.local, "no UDP socket for flow");
                    return;
                };
                if let Err(e) = socket.send_to(&bytes, flow.remote).await {
                    debug!(remote = %flow.remote, error = %e, "UDP send failed");
                }
            }
            Transport::Tcp => {
                if let Some(writer) = self.tcp.get(&flow.remote) {
                    match writer.try_send(bytes) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            warn!(remote = %flow.remote, "TCP queue full; message dropped");
                        }
                        Err(mpsc::error::TrySendError::Closed(bytes)) => {
                            self.tcp.remove(&flow.remote);
                            self.queue_connect(flow, bytes, inputs);
                        }
                    }
                } else {
                    self.queue_connect(flow, bytes, inputs);
                }
            }
        }
    }

    fn queue_connect(&mut self, flow: Flow, bytes: Vec<u8>, inputs: &mpsc::Sender<Input>) {
        if let Some(queue) = self.connecting.get_mut(&flow.remote) {
            queue.push(bytes);
            return;
        }
        self.connecting.insert(flow.remote, vec![bytes]);
        tokio::spawn(tcp_connect(flow, inputs.clone()));
    }
}

async fn udp_reader(socket: Arc<UdpSocket>, local: SocketAddr, inputs: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, remote)) => {
                let flow = Flow {
                    transport: Transport::Udp,
                    local,
                    remote,
                };
                if inputs
                    .send(Input::Packet {
                        flow,
                        bytes: buf[..n].to_vec(),
                    })
                    .await
                    .is_err()
                {
                    return; // the driver is gone: shutting down
                }
            }
            // ICMP port unreachable and friends show up here on Linux; they are not fatal.
            Err(e) => debug!(%local, error = %e, "UDP receive error"),
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, local: SocketAddr, inputs: mpsc::Sender<Input>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let flow = Flow {
                    transport: Transport::Tcp,
                    local,
                    remote,
                };
                tokio::spawn(tcp_connection(stream, flow, inputs.clone()));
            }
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                warn!(%local, error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn tcp_connect(flow: Flow, inputs: mpsc::Sender<Input>) {
    match tokio::time::timeout(TCP_CONNECT_TIMEOUT, TcpStream::connect(flow.remote)).await {
        Ok(Ok(stream)) => tcp_connection(stream, flow, inputs).await,
        Ok(Err(e)) => {
            info!(remote = %flow.remote, error = %e, "TCP connect failed");
            let _ = inputs.send(Input::Closed { flow }).await;
        }
        Err(_) => {
            info!(remote = %flow.remote, "TCP connect timed out");
            let _ = inputs.send(Input::Closed { flow }).await;
        }
    }
}

async fn tcp_connection(stream: TcpStream, flow: Flow, inputs: mpsc::Sender<Input>) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_QUEUE);
    if inputs
        .send(Input::Connected {
            flow,
            writer: tx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(TCP_IDLE_TIMEOUT, reader.read(&mut buf)).await {
            Err(_) => {
                debug!(remote = %flow.remote, "TCP connection idle; closing");
                break;
            }
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        let mut fatal = false;
        while let Some(item) = framer.next_item() {
            match item {
                Ok(Framed::Message(bytes)) => {
                    if inputs.send(Input::Packet { flow, bytes }).await.is_err() {
                        fatal = true;
                        break;
                    }
                }
                // RFC 5626 §4.4.1: a double-CRLF ping is answered with a single-CRLF pong.
                Ok(Framed::Ping) => {
                    let _ = tx.try_send(b"\r\n".to_vec());
                }
                Ok(Framed::Pong) => {}
                Err(e) => {
                    // A stream cannot be resynchronised after a framing error.
                    warn!(remote = %flow.remote, error = %e, "closing TCP connection after framing error");
                    fatal = true;
                    break;
                }
            }
        }
        if fatal {
            break;
        }
    }
    drop(tx);
    write_task.abort();
    let _ = inputs.send(Input::Closed { flow }).await;
}
