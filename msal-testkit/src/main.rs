//! `msal-testkit serve`: the test authority as a standalone server for demos and manual testing.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};

#[derive(Parser)]
#[command(
    name = "msal-testkit",
    version,
    about = "A local, Entra-like authority for testing MSAL clients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the authority and serve until Ctrl-C.
    Serve {
        /// Port to listen on (127.0.0.1, and ::1 when available).
        #[arg(long, default_value_t = 8443)]
        port: u16,
        /// Serve plain HTTP instead of HTTPS (MSAL Python refuses http authorities).
        #[arg(long)]
        http: bool,
        /// Extra app registrations, `CLIENT_ID:SECRET` (repeatable).
        #[arg(long = "app", value_name = "CLIENT_ID:SECRET")]
        apps: Vec<String>,
        /// Where to write the CA certificate (default: ./msal-testkit-ca.pem).
        #[arg(long, value_name = "FILE")]
        ca_out: Option<PathBuf>,
        /// Redirect URI registered for the demo app (auth code flow).
        #[arg(long, default_value = "http://localhost:8400/callback")]
        redirect_uri: String,
        /// Show a sign-in page (account picker, consent, cancel) instead of signing the
        /// first user in at once.
        #[arg(long)]
        sign_in_page: bool,
    },
}

const DEMO_CLIENT_ID: &str = "de30c11e-0000-4000-8000-00000000c11e";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Command::Serve {
        port,
        http,
        apps,
        ca_out,
        redirect_uri,
        sign_in_page,
    } = Cli::parse().command;

    let demo_secret = format!("demo~{}", uuid::Uuid::new_v4().simple());
    let demo_user = TestUser::new("alice@contoso.onmicrosoft.com");
    let mut builder = TestAuthority::builder()
        .https(!http)
        .port(port)
        .app(
            AppRegistration::with_secret(DEMO_CLIENT_ID, demo_secret.clone())
                .redirect_uri(redirect_uri.clone())
                .identifier_uri(format!("api://{DEMO_CLIENT_ID}")),
        )
        .user(demo_user.clone())
        .sign_in_page(sign_in_page);
    for spec in &apps {
        let (id, secret) = spec
            .split_once(':')
            .ok_or_else(|| format!("--app expects CLIENT_ID:SECRET, got {spec:?}"))?;
        builder = builder.app(
            AppRegistration::with_secret(id, secret)
                .redirect_uri(redirect_uri.clone())
                .identifier_uri(format!("api://{id}")),
        );
    }
    let authority = builder.start().await?;

    let ca_path = if http {
        None
    } else {
        let path = ca_out.unwrap_or_else(|| PathBuf::from("msal-testkit-ca.pem"));
        std::fs::write(&path, authority.ca_pem())?;
        Some(std::fs::canonicalize(&path)?)
    };
    print_banner(
        &authority,
        &demo_secret,
        &demo_user,
        &apps,
        ca_path.as_deref(),
        &redirect_uri,
    );

    tokio::signal::ctrl_c().await?;
    println!("\nshutting down");
    Ok(())
}

// The banner intentionally prints the generated demo secret: it is what the user needs to try
// the server, and it dies with the process.
fn print_banner(
    authority: &TestAuthority,
    secret: &str,
    user: &TestUser,
    extra_apps: &[String],
    ca_path: Option<&std::path::Path>,
    redirect_uri: &str,
) {
    let tenant = authority.tenant_id();
    let authority_url = authority.authority(tenant);
    println!(
        "msal-testkit authority listening on {}",
        authority.base_url()
    );
    println!();
    println!("  authority       {authority_url}");
    println!(
        "  tenant          {tenant} (also {})",
        authority.tenant_domain()
    );
    println!("  token endpoint  {authority_url}/oauth2/v2.0/token");
    println!("  demo client id  {DEMO_CLIENT_ID}");
    println!("  demo secret     {secret}");
    println!("  redirect uri    {redirect_uri}");
    println!("  demo user       {} (oid {})", user.username, user.oid);
    for app in extra_apps {
        let id = app.split(':').next().unwrap_or_default();
        println!("  extra app       {id}");
    }
    if let Some(ca) = ca_path {
        println!("  CA certificate  {}", ca.display());
    }
    println!();
    let cacert = ca_path
        .map(|p| format!(" --cacert {}", p.display()))
        .unwrap_or_default();
    println!("Try it with curl:");
    println!(
        "  curl -s{cacert} {authority_url}/oauth2/v2.0/token \\\n    \
         -d grant_type=client_credentials -d client_id={DEMO_CLIENT_ID} \\\n    \
         -d client_secret='{secret}' -d scope=https://graph.microsoft.com/.default"
    );
    println!();
    if let Some(ca) = ca_path {
        println!("Or with MSAL Python (it needs https, instance_discovery=False and the CA):");
        println!(
            "  export REQUESTS_CA_BUNDLE={0} CURL_CA_BUNDLE={0}",
            ca.display()
        );
        println!(
            "  python3 -c 'import msal; app = msal.ConfidentialClientApplication(\n      \
             \"{DEMO_CLIENT_ID}\", client_credential=\"{secret}\",\n      \
             authority=\"{authority_url}\", instance_discovery=False);\n      \
             print(app.acquire_token_for_client([\"https://graph.microsoft.com/.default\"]))'"
        );
    } else {
        println!("(plain HTTP: MSAL Python refuses http authorities; drop --http to use it)");
    }
    println!();
    println!("Press Ctrl-C to stop.");
}
