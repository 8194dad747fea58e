//! An in-process authoritative DNS server for tests (hickory-server), on 127.0.0.1 only.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::rr::{LowerName, Name};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

/// A catalog that counts the queries it is asked.
pub struct Counting {
    catalog: Catalog,
    queries: Arc<AtomicUsize>,
}

// The trait is declared with `async_trait`; this is its expansion, written out so that the
// tests need no extra crate.
impl RequestHandler for Counting {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: 'async_trait + ResponseHandler,
        T: 'async_trait + Time,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.catalog
            .handle_request::<R, T>(request, response_handle)
    }
}

pub struct TestDns {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    server: Server<Counting>,
}

impl TestDns {
    /// Serves `zones` (origin, zone text) on 127.0.0.1, UDP and TCP, on a free port.
    pub async fn start(zones: &[(&str, &str)]) -> TestDns {
        let mut catalog = Catalog::new();
        for (origin, text) in zones {
            let (origin, records) =
                Parser::new(*text, None, Some(Name::from_ascii(origin).unwrap()))
                    .parse()
                    .unwrap();
            let zone = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
                origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
            )
            .unwrap();
            catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
        }
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let mut server = Server::new(Counting {
            catalog,
            queries: queries.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 4096);
        TestDns {
            addr,
            queries,
            server,
        }
    }

    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}
