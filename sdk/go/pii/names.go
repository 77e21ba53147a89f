package pii

import "bytes"

type nameClass uint8

const (
	nameNone nameClass = iota
	nameSensitive
	namePassword
	nameAWSSecret
)

// maxNameLen bounds the part of a name that is classified.
const maxNameLen = 96

// passwordWords name a password wherever they stand in a name.
var passwordWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "passphrase": true, "passcode": true,
}

// sensitiveWords name a secret wherever they stand in a name (after the name
// is split into words): user_secret, refreshToken, X-Auth, Set-Cookie.
// "tokens" is left out on purpose: max_tokens and prompt_tokens are counts.
var sensitiveWords = map[string]bool{
	"secret": true, "secrets": true, "token": true, "auth": true, "authorization": true,
	"credential": true, "credentials": true, "creds": true, "cookie": true, "cookies": true,
	"apikey": true, "privatekey": true, "sessionid": true, "sessid": true, "jwt": true,
	"bearer": true, "otp": true, "cvv": true, "cvc": true, "pin": true, "ssn": true,
	"signature": true, "salt": true, "privkey": true,
}

// sensitiveCompounds name a secret when the name's words, joined, contain
// them: api_key, x-api-key, privateKey, SESSION_ID, client-secret.
var sensitiveCompounds = [][]byte{
	[]byte("apikey"), []byte("privatekey"), []byte("secretkey"), []byte("accesskey"),
	[]byte("sessionid"), []byte("sessiontoken"), []byte("clientsecret"), []byte("authtoken"),
	[]byte("accesstoken"), []byte("refreshtoken"), []byte("idtoken"), []byte("csrftoken"),
	[]byte("encryptionkey"), []byte("signingkey"), []byte("masterkey"),
}

var (
	awsSecret       = []byte("awssecret")
	secretAccessKey = []byte("secretaccesskey")
)

// metaWords, as the last word of a name, say the field describes a secret
// rather than holds one: token_type, password_length, secret_name,
// token_expires_at.
var metaWords = map[string]bool{
	"type": true, "kind": true, "count": true, "len": true, "length": true, "size": true,
	"policy": true, "required": true, "enabled": true, "disabled": true, "set": true,
	"expiry": true, "expires": true, "expired": true, "expiration": true, "ttl": true, "at": true,
	"time": true, "date": true, "timestamp": true, "strength": true, "changed": true,
	"updated": true, "created": true, "reset": true, "min": true, "max": true, "format": true,
	"rule": true, "rules": true, "label": true, "name": true, "names": true, "url": true,
	"uri": true, "endpoint": true, "path": true, "file": true, "ref": true, "arn": true,
	"method": true, "mode": true, "scheme": true, "provider": true,
	"version": true, "algorithm": true, "alg": true, "present": true, "valid": true,
}

// classifyName decides whether a field called name holds a password, an AWS
// secret key or another secret. The name is split into lower-case words on
// any character that is not a letter or a digit and on camelCase humps
// ("APIKey" -> api, key); trailing digits of a word are ignored.
func classifyName(name string) nameClass {
	if name == "" {
		return nameNone
	}
	var buf [maxNameLen]byte // the name's letters and digits, lower case
	var starts [24]uint8     // where each word starts in buf
	n, words := 0, 0
	newWord := true
	for i := 0; i < len(name) && n < len(buf); i++ {
		c := name[i]
		lower, upper, digit := c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
		if !lower && !upper && !digit {
			newWord = true
			continue
		}
		if upper && i > 0 {
			prev := name[i-1]
			prevLower := (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9')
			nextLower := i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z'
			prevUpper := prev >= 'A' && prev <= 'Z'
			if prevLower || (prevUpper && nextLower) {
				newWord = true
			}
		}
		if newWord && words < len(starts) {
			starts[words] = uint8(n)
			words++
		}
		newWord = false
		if upper {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	if words == 0 {
		return nameNone
	}
	word := func(i int) []byte {
		end := n
		if i+1 < words {
			end = int(starts[i+1])
		}
		w := buf[starts[i]:end]
		for len(w) > 1 && w[len(w)-1] >= '0' && w[len(w)-1] <= '9' {
			w = w[:len(w)-1]
		}
		return w
	}
	joined := buf[:n]

	if words > 1 && metaWords[string(word(words-1))] {
		return nameNone
	}
	if bytes.Contains(joined, awsSecret) || bytes.Contains(joined, secretAccessKey) {
		return nameAWSSecret
	}
	if string(word(words-1)) == "pass" {
		return namePassword
	}
	class := nameNone
	for i := range words {
		w := word(i)
		if passwordWords[string(w)] {
			return namePassword
		}
		if sensitiveWords[string(w)] {
			class = nameSensitive
		}
	}
	if class != nameNone {
		return class
	}
	for _, c := range sensitiveCompounds {
		if bytes.Contains(joined, c) {
			return nameSensitive
		}
	}
	return nameNone
}
