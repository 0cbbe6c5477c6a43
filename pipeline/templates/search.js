/* kindcast search: runs in the browser over the static index in search/ (see pipeline/web/search.py).
   A query's words are tokenized as the index was (NFKD, marks dropped, lower case, letters and digits); each word
   matches the tokens it begins; an episode is shown when it holds every word, with up to three moments (the
   paragraphs that hold the most words), each a link that seeks the episode's player to that time. */
(function () {
  "use strict";
  var root = "search/";
  var MIN = 2, EPISODES_SHOWN = 20, MOMENTS = 3;
  var form = document.querySelector(".search-form");
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var cache = {};

  function tokens(text) {
    var found = text.normalize("NFKD").replace(/\p{Mn}/gu, "").toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
    return found.filter(function (t) { return t.length >= MIN; });
  }
  function shardKey(token) {
    var head = Array.from(token).slice(0, 2).join("");
    if (/^[a-z0-9]+$/.test(head)) return head;
    return "u" + Array.from(head).map(function (c) { return c.codePointAt(0).toString(16); }).join("-");
  }
  function load(path) {
    if (!cache[path]) {
      cache[path] = fetch(root + path).then(function (r) {
        if (r.status === 404) return null;
        if (!r.ok) throw new Error(path + ": " + r.status);
        return r.json();
      });
    }
    return cache[path];
  }
  function clock(seconds) {
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  /* The text with every word that a query word begins in <mark> (text nodes only: nothing is parsed as HTML). */
  function highlighted(text, words) {
    var out = document.createDocumentFragment();
    var re = /[\p{L}\p{N}\p{Mn}]+/gu, last = 0, m;
    while ((m = re.exec(text)) !== null) {
      var folded = tokens(m[0])[0] || "";
      var hit = words.some(function (w) { return folded.indexOf(w) === 0; });
      if (!hit) continue;
      out.appendChild(document.createTextNode(text.slice(last, m.index)));
      out.appendChild(el("mark", null, m[0]));
      last = m.index + m[0].length;
    }
    out.appendChild(document.createTextNode(text.slice(last)));
    return out;
  }
  /* A paragraph's text cut to about 40 words around its first match. */
  function excerpt(text, words) {
    var parts = text.split(/\s+/);
    if (parts.length <= 40) return text;
    var first = parts.findIndex(function (p) {
      var t = tokens(p)[0] || "";
      return words.some(function (w) { return t.indexOf(w) === 0; });
    });
    var from = Math.max(0, Math.min(first - 12, parts.length - 40));
    return (from > 0 ? "… " : "") + parts.slice(from, from + 40).join(" ") + (from + 40 < parts.length ? " …" : "");
  }

  function search(query) {
    var words = Array.from(new Set(tokens(query)));
    list.textContent = "";
    if (!words.length) {
      status.textContent = query.trim() ? "Type a word of at least two letters." : "";
      return Promise.resolve();
    }
    status.textContent = "Searching…";
    var shards = words.map(function (w) { return load("index/" + shardKey(w) + ".json"); });
    return Promise.all([load("episodes.json")].concat(shards)).then(function (loaded) {
      var episodes = loaded[0].episodes;
      /* for each word: episode -> {paragraph: exact?} */
      var perWord = words.map(function (w, i) {
        var shard = loaded[i + 1] || {}, hits = {};
        Object.keys(shard).forEach(function (token) {
          if (token.indexOf(w) !== 0) return;
          shard[token].forEach(function (posting) {
            var e = posting[0], paras = hits[e] || (hits[e] = {});
            for (var k = 1; k < posting.length; k++) paras[posting[k]] = paras[posting[k]] || token === w;
          });
        });
        return hits;
      });
      var found = [];
      episodes.forEach(function (ep, e) {
        if (!perWord.every(function (hits) { return hits[e]; })) return;
        var score = 0, paraWords = {};
        perWord.forEach(function (hits) {
          Object.keys(hits[e]).forEach(function (p) {
            score += hits[e][p] ? 2 : 1;
            if (Number(p) === 0) score += 5;  /* the title */
            paraWords[p] = (paraWords[p] || 0) + 1;
          });
        });
        found.push({index: e, episode: ep, score: score, paragraphs: paraWords});
      });
      found.sort(function (a, b) { return b.score - a.score || a.index - b.index; });
      status.textContent = found.length ? (found.length === 1 ? "1 episode" : found.length + " episodes") + " found."
                                        : "Nothing found for “" + query.trim() + "”.";
      return Promise.all(found.slice(0, EPISODES_SHOWN).map(function (f) {
        return load("docs/" + f.episode.slug + ".json").then(function (doc) { f.doc = doc; return f; });
      }));
    }).then(function (shown) {
      (shown || []).forEach(function (f) { list.appendChild(result(f, words)); });
    }).catch(function (err) {
      status.textContent = "Search is not available here (" + err.message + ").";
    });
  }

  function result(f, words) {
    var item = el("li", "search-result");
    var h = el("h2");
    var a = el("a", null, f.episode.title);
    a.href = f.episode.href;
    h.appendChild(a);
    item.appendChild(h);
    item.appendChild(el("p", "facts", f.episode.when || f.episode.date));
    var paragraphs = (f.doc && f.doc.p) || [];
    var ranked = Object.keys(f.paragraphs).map(Number).filter(function (p) { return p > 0 && paragraphs[p]; });
    ranked.sort(function (x, y) {  /* most words first, then moments in the audio before notes, then in order */
      return f.paragraphs[y] - f.paragraphs[x] || (paragraphs[x][0] === null) - (paragraphs[y][0] === null) || x - y;
    });
    var moments = el("ul", "moments");
    ranked.slice(0, MOMENTS).sort(function (x, y) { return x - y; }).forEach(function (p) {
      var para = paragraphs[p], li = el("li");
      if (para[0] !== null) {
        var time = el("a", "time", clock(para[0]));
        time.href = f.episode.href + "#t=" + para[0];
        time.title = "Play from " + clock(para[0]);
        li.appendChild(time);
        li.appendChild(document.createTextNode(" "));
      } else {
        li.appendChild(el("span", "where", "Notes: "));
      }
      if (para[1]) li.appendChild(el("strong", "speaker", para[1] + ": "));
      li.appendChild(highlighted(excerpt(para[2], words), words));
      moments.appendChild(li);
    });
    if (moments.childNodes.length) item.appendChild(moments);
    return item;
  }

  var query = new URLSearchParams(location.search).get("q") || "";
  input.value = query;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = input.value;
    history.replaceState(null, "", "?q=" + encodeURIComponent(q));
    search(q);
  });
  window.kindcastSearch = search;  /* for the tests and the console */
  search(query);
})();
