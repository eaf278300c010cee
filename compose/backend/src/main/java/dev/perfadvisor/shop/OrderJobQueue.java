package dev.perfadvisor.shop;

import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.data.redis.connection.stream.StreamRecords;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.stereotype.Component;

/** Queues a placed order for the worker (compose/worker) on a Redis stream; the worker reads it with XREADGROUP. */
public interface OrderJobQueue {

    void enqueue(long orderId, long customerId);

    @Component
    class RedisStream implements OrderJobQueue {

        private static final Logger log = LoggerFactory.getLogger(RedisStream.class);

        private final StringRedisTemplate redis;
        private final String stream;

        public RedisStream(StringRedisTemplate redis, ShopProperties props) {
            this.redis = redis;
            this.stream = props.jobs().stream();
        }

        /** The order is already committed: a failure here is logged, not returned to the customer. */
        @Override
        public void enqueue(long orderId, long customerId) {
            try {
                redis.opsForStream().add(StreamRecords.string(Map.of(
                        "order_id", Long.toString(orderId), "customer_id", Long.toString(customerId)))
                        .withStreamKey(stream));
            } catch (RuntimeException e) {
                log.warn("order {} placed but not queued for the worker: {}", orderId, e.getMessage());
            }
        }
    }
}
