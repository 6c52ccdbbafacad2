// The TLS material of the secure Kafka node (`.ci/kafka.sh start-secure`), made fresh per start:
//
//   java --add-exports java.base/sun.security.tools.keytool=ALL-UNNAMED SecureCerts.java DIR
//
// A CA, the broker's certificate (SAN IP:127.0.0.1 only: a client that dials localhost sees a
// host-name mismatch), client certificates for mutual TLS (CN = Kafka principal): tls-reader
// (valid), tls-expired (expired two days ago) and tls-rogue (valid, from the rogue CA), and a
// second, unrelated "rogue" CA. librdkafka (OpenSSL) takes PEM, so each client certificate
// comes as PEM (chain), its private key as PKCS#8 PEM in the clear and encrypted, and a PKCS#12
// keystore. Every password is random. DIR/certs.env lists files and passwords, KEY=VALUE.
//
// keytool runs in this one JVM (its Main, hence --add-exports): some 30 keytool commands as
// separate JVMs would take half a minute on 2 busy cores. keytool exits the JVM with status 1
// on an error, so a failure stops here.
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.EncryptedPrivateKeyInfo;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.PBEParameterSpec;

public class SecureCerts {
  static final SecureRandom RANDOM = new SecureRandom();
  static final Map<String, String> ENV = new LinkedHashMap<>();
  static Path dir;

  public static void main(String[] args) throws Exception {
    dir = Path.of(args[0]);
    String ca = password(), rogue = password();
    selfSigned("ca", "CN=gig-ci-ca", ca);
    selfSigned("rogue-ca", "CN=gig-ci-rogue-ca", rogue);
    ENV.put("GIGCI_SECURE_CA", file("ca.pem"));
    ENV.put("GIGCI_SECURE_ROGUE_CA", file("rogue-ca.pem"));

    // The broker's keystore (its key under both TLS listeners and as the controller's and
    // inter-broker client) and truststore (the CA: mutual TLS clients, its own controller).
    String broker = password(), trust = password();
    issue("broker", "CN=gig-ci-broker", broker, "ca", ca, null,
        "san=ip:127.0.0.1", "eku=serverAuth,clientAuth");
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", file("ca.pem"),
        "-keystore", file("truststore.p12"), "-storepass", trust);
    ENV.put("BROKER_P12", file("broker.p12"));
    ENV.put("BROKER_P12_PASSWORD", broker);
    ENV.put("TRUSTSTORE_P12", file("truststore.p12"));
    ENV.put("TRUSTSTORE_PASSWORD", trust);

    client("tls-reader", "ca", ca, null);
    // Valid for one day, three days ago.
    client("tls-expired", "ca", ca, "-3d");
    client("tls-rogue", "rogue-ca", rogue, null);

    StringBuilder env = new StringBuilder();
    ENV.forEach((k, v) -> env.append(k).append('=').append(v).append('\n'));
    Files.writeString(dir.resolve("certs.env"), env);
  }

  // A CA. It starts a week back, so that the expired certificate lies within its lifetime.
  static void selfSigned(String name, String dname, String pass) throws Exception {
    genkeypair(name, dname, pass, "-ext", "bc:c", "-startdate", "-7d", "-validity", "60");
    keytool("-exportcert", "-rfc", "-alias", name, "-keystore", file(name + ".p12"),
        "-storepass", pass, "-file", file(name + ".pem"));
  }

  // NAME.p12 holds NAME's key with the chain [NAME, CA], signed by the CA's keystore.
  static void issue(String name, String dname, String pass, String ca, String caPass,
      String startdate, String... exts) throws Exception {
    String p12 = file(name + ".p12"), csr = file(name + ".csr"), crt = file(name + ".crt");
    genkeypair(name, dname, pass);
    keytool("-certreq", "-alias", name, "-keystore", p12, "-storepass", pass, "-file", csr);
    List<String> gencert = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", ca,
        "-keystore", file(ca + ".p12"), "-storepass", caPass, "-infile", csr, "-outfile", crt));
    if (startdate != null) {
      gencert.addAll(List.of("-startdate", startdate, "-validity", "1"));
    } else {
      gencert.addAll(List.of("-startdate", "-1d", "-validity", "30"));
    }
    for (String ext : exts) gencert.addAll(List.of("-ext", ext));
    keytool(gencert.toArray(new String[0]));
    // keytool installs a reply only when it can chain it: the CA goes in first, then out.
    keytool("-importcert", "-noprompt", "-alias", ca, "-file", file(ca + ".pem"),
        "-keystore", p12, "-storepass", pass);
    keytool("-importcert", "-noprompt", "-alias", name, "-file", crt, "-keystore", p12,
        "-storepass", pass);
    keytool("-delete", "-alias", ca, "-keystore", p12, "-storepass", pass);
    Files.delete(Path.of(csr));
    Files.delete(Path.of(crt));
  }

  static void client(String name, String ca, String caPass, String startdate) throws Exception {
    String pass = password(), keyPass = password();
    issue(name, "CN=" + name, pass, ca, caPass, startdate, "eku=clientAuth");
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(dir.resolve(name + ".p12"))) {
      ks.load(in, pass.toCharArray());
    }
    PrivateKey key = (PrivateKey) ks.getKey(name, pass.toCharArray());
    StringBuilder chain = new StringBuilder();
    for (Certificate c : ks.getCertificateChain(name)) {
      chain.append(pem("CERTIFICATE", c.getEncoded()));
    }
    Files.writeString(dir.resolve(name + ".pem"), chain);
    Files.writeString(dir.resolve(name + ".key"), pem("PRIVATE KEY", key.getEncoded()));
    Files.writeString(dir.resolve(name + "-encrypted.key"),
        pem("ENCRYPTED PRIVATE KEY", encrypt(key.getEncoded(), keyPass)));
    String prefix = "GIGCI_SECURE_" + name.toUpperCase().replace('-', '_');
    ENV.put(prefix + "_CERT", file(name + ".pem"));
    ENV.put(prefix + "_KEY", file(name + ".key"));
    ENV.put(prefix + "_KEY_ENCRYPTED", file(name + "-encrypted.key"));
    ENV.put(prefix + "_KEY_PASSWORD", keyPass);
    ENV.put(prefix + "_P12", file(name + ".p12"));
    ENV.put(prefix + "_P12_PASSWORD", pass);
  }

  // PKCS#8 EncryptedPrivateKeyInfo, PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC): what
  // `openssl pkcs8 -topk8` writes by default, and what OpenSSL reads with ssl.key.password.
  static byte[] encrypt(byte[] pkcs8, String password) throws Exception {
    String alg = "PBEWithHmacSHA256AndAES_256";
    byte[] salt = new byte[16], iv = new byte[16];
    RANDOM.nextBytes(salt);
    RANDOM.nextBytes(iv);
    var secret = SecretKeyFactory.getInstance(alg)
        .generateSecret(new PBEKeySpec(password.toCharArray()));
    Cipher cipher = Cipher.getInstance(alg);
    cipher.init(Cipher.ENCRYPT_MODE, secret,
        new PBEParameterSpec(salt, 10000, new IvParameterSpec(iv)));
    // The cipher names its parameters after itself, a name EncryptedPrivateKeyInfo does not
    // map to an OID; the same DER under the generic name PBES2 gets the PBES2 OID.
    AlgorithmParameters pbes2 = AlgorithmParameters.getInstance("PBES2");
    pbes2.init(cipher.getParameters().getEncoded());
    return new EncryptedPrivateKeyInfo(pbes2, cipher.doFinal(pkcs8)).getEncoded();
  }

  static String pem(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }

  // 24 letters and digits: safe unquoted in properties, JAAS, KEY=VALUE lines and arguments.
  static String password() {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    StringBuilder password = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      password.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
    }
    return password.toString();
  }

  static String file(String name) {
    return dir.resolve(name).toAbsolutePath().toString();
  }

  // NAME.p12: a new key pair under alias NAME. EC P-256: TLS 1.2 and 1.3 in Java and OpenSSL
  // take it, and it generates in milliseconds where RSA takes a good part of a second.
  static void genkeypair(String name, String dname, String pass, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of("-genkeypair", "-alias", name, "-dname", dname,
        "-keyalg", "EC", "-groupname", "secp256r1", "-keystore", file(name + ".p12"),
        "-storepass", pass));
    args.addAll(List.of(more));
    keytool(args.toArray(new String[0]));
  }

  static void keytool(String... args) throws Exception {
    sun.security.tools.keytool.Main.main(args);
  }
}
