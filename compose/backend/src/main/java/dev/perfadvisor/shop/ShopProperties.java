package dev.perfadvisor.shop;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Settings under {@code shop.*}; every one can be overridden by an environment variable
 * (relaxed binding: {@code shop.cache.ttl.products} is {@code SHOP_CACHE_TTL_PRODUCTS}).
 *
 * @param cache per-cache time-to-live
 * @param jobs  where placed orders are queued for the worker
 */
@ConfigurationProperties("shop")
public record ShopProperties(Cache cache, Jobs jobs) {

    public ShopProperties {
        cache = cache == null ? new Cache(null) : cache;
        jobs = jobs == null ? new Jobs(null) : jobs;
    }

    /** @param ttl time-to-live per cache name; a cache without an entry never expires. */
    public record Cache(Map<String, Duration> ttl) {
        public Cache {
            ttl = ttl == null ? new LinkedHashMap<>() : ttl;
        }
    }

    /** @param stream the Redis stream the worker consumes (XREADGROUP). */
    public record Jobs(String stream) {
        public Jobs {
            stream = stream == null ? "shop:order-jobs" : stream;
        }
    }
}
