// distclient: distribution's own Go client (registry/client and its token handler, from
// Debian's golang-github-docker-distribution-dev), as a small CLI for Purser's e2e tests.
// Each command prints one JSON object on stdout; a failure prints {"error": ...} and exits 1.
//
//	distclient -registry URL [-user U -pass P] push REPO TAG LAYOUT_DIR
//	distclient ... pull REPO TAG            (fetches and verifies the manifest and every blob)
//	distclient ... tags REPO
//	distclient ... digest REPO TAG
//	distclient ... delete REPO DIGEST
//	distclient ... mount FROM_REPO TO_REPO DIGEST   (prints "mounted": true on a 201)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/distribution"
	_ "github.com/docker/distribution/manifest/ocischema"
	_ "github.com/docker/distribution/manifest/schema2"
	"github.com/docker/distribution/reference"
	"github.com/docker/distribution/registry/client"
	"github.com/docker/distribution/registry/client/auth"
	"github.com/docker/distribution/registry/client/auth/challenge"
	"github.com/docker/distribution/registry/client/transport"
	"github.com/opencontainers/go-digest"
)

type creds struct{ user, pass string }

func (c creds) Basic(*url.URL) (string, string)          { return c.user, c.pass }
func (c creds) RefreshToken(*url.URL, string) string     { return "" }
func (c creds) SetRefreshToken(*url.URL, string, string) {}

var (
	registry = flag.String("registry", "", "registry base URL")
	user     = flag.String("user", "", "username")
	pass     = flag.String("pass", "", "password")
)

func fail(err error) {
	out, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Println(string(out))
	os.Exit(1)
}

func emit(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

// repo opens a repository with a token handler asking for these scopes, as docker does.
func repo(ctx context.Context, name string, scopes ...auth.Scope) distribution.Repository {
	named, err := reference.WithName(name)
	if err != nil {
		fail(err)
	}
	cm := challenge.NewSimpleManager()
	resp, err := http.Get(strings.TrimRight(*registry, "/") + "/v2/")
	if err != nil {
		fail(err)
	}
	resp.Body.Close()
	if err := cm.AddResponse(resp); err != nil {
		fail(err)
	}
	c := creds{*user, *pass}
	th := auth.NewTokenHandlerWithOptions(auth.TokenHandlerOptions{
		Transport:   http.DefaultTransport,
		Credentials: c,
		Scopes:      scopes,
		ClientID:    "purser-e2e-distclient",
	})
	tr := transport.NewTransport(http.DefaultTransport, auth.NewAuthorizer(cm, th, auth.NewBasicHandler(c)))
	r, err := client.NewRepository(named, *registry, tr)
	if err != nil {
		fail(err)
	}
	return r
}

func scope(name string, actions ...string) auth.Scope {
	return auth.RepositoryScope{Repository: name, Actions: actions}
}

func readBlob(dir string, d digest.Digest) []byte {
	b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Hex()))
	if err != nil {
		fail(err)
	}
	return b
}

func push(ctx context.Context, name, tag, dir string) {
	var index struct {
		Manifests []struct {
			Digest      digest.Digest     `json:"digest"`
			MediaType   string            `json:"mediaType"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		fail(err)
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		fail(err)
	}
	if len(index.Manifests) == 0 {
		fail(errors.New("empty index.json"))
	}
	mdesc := index.Manifests[0]
	mbytes := readBlob(dir, mdesc.Digest)
	m, _, err := distribution.UnmarshalManifest(mdesc.MediaType, mbytes)
	if err != nil {
		fail(err)
	}
	r := repo(ctx, name, scope(name, "pull", "push"))
	bs := r.Blobs(ctx)
	for _, ref := range m.References() {
		if _, err := bs.Stat(ctx, ref.Digest); err == nil {
			continue
		}
		w, err := bs.Create(ctx)
		if err != nil {
			fail(err)
		}
		if _, err := w.Write(readBlob(dir, ref.Digest)); err != nil {
			fail(err)
		}
		if _, err := w.Commit(ctx, ref); err != nil {
			fail(err)
		}
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		fail(err)
	}
	d, err := ms.Put(ctx, m, distribution.WithTag(tag))
	if err != nil {
		fail(err)
	}
	emit(map[string]interface{}{"digest": d, "blobs": len(m.References())})
}

func pull(ctx context.Context, name, tag string) {
	r := repo(ctx, name, scope(name, "pull"))
	ms, err := r.Manifests(ctx)
	if err != nil {
		fail(err)
	}
	m, err := ms.Get(ctx, "", distribution.WithTag(tag))
	if err != nil {
		fail(err)
	}
	mediaType, payload, err := m.Payload()
	if err != nil {
		fail(err)
	}
	total := 0
	for _, ref := range m.References() {
		rc, err := r.Blobs(ctx).Open(ctx, ref.Digest)
		if err != nil {
			fail(err)
		}
		v := ref.Digest.Verifier()
		n, err := io.Copy(v, rc)
		rc.Close()
		if err != nil {
			fail(err)
		}
		if !v.Verified() || n != ref.Size {
			fail(fmt.Errorf("blob %s: wrong content (%d bytes)", ref.Digest, n))
		}
		total += int(n)
	}
	emit(map[string]interface{}{
		"digest": digest.FromBytes(payload), "mediaType": mediaType, "blobs": len(m.References()), "bytes": total,
	})
}

func main() {
	flag.Parse()
	args := flag.Args()
	if *registry == "" || len(args) < 2 {
		fail(errors.New("usage: distclient -registry URL [-user U -pass P] push|pull|tags|digest|delete|mount ..."))
	}
	ctx := context.Background()
	need := func(n int) {
		if len(args) != n {
			fail(fmt.Errorf("%s takes %d arguments", args[0], n-1))
		}
	}
	switch args[0] {
	case "push":
		need(4)
		push(ctx, args[1], args[2], args[3])
	case "pull":
		need(3)
		pull(ctx, args[1], args[2])
	case "tags":
		need(2)
		tags, err := repo(ctx, args[1], scope(args[1], "pull")).Tags(ctx).All(ctx)
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"tags": tags})
	case "digest":
		need(3)
		desc, err := repo(ctx, args[1], scope(args[1], "pull")).Tags(ctx).Get(ctx, args[2])
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"digest": desc.Digest})
	case "delete":
		need(3)
		ms, err := repo(ctx, args[1], scope(args[1], "delete")).Manifests(ctx)
		if err != nil {
			fail(err)
		}
		if err := ms.Delete(ctx, digest.Digest(args[2])); err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"deleted": args[2]})
	case "mount":
		need(4)
		from, to, d := args[1], args[2], digest.Digest(args[3])
		src, err := reference.WithName(from)
		if err != nil {
			fail(err)
		}
		canonical, err := reference.WithDigest(src, d)
		if err != nil {
			fail(err)
		}
		r := repo(ctx, to, scope(to, "pull", "push"), scope(from, "pull"))
		w, err := r.Blobs(ctx).Create(ctx, client.WithMountFrom(canonical))
		var mounted distribution.ErrBlobMounted
		if errors.As(err, &mounted) {
			emit(map[string]interface{}{"mounted": true, "digest": mounted.Descriptor.Digest})
			return
		}
		if err != nil {
			fail(err)
		}
		// 202: the registry wants an upload instead; a client would now send the blob.
		w.Cancel(ctx)
		emit(map[string]interface{}{"mounted": false})
	default:
		fail(fmt.Errorf("unknown command %s", args[0]))
	}
}
